import { MemoryGrantStore } from '../../src/grants/memory-store.js';
import { describeGrantStore } from './store-contract.js';

describeGrantStore('memory', () => new MemoryGrantStore());
