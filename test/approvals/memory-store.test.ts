import { MemoryApprovalStore } from '../../src/approvals/memory-store.js';
import { describeApprovalStore } from './store-contract.js';

describeApprovalStore('memory', () => new MemoryApprovalStore());
