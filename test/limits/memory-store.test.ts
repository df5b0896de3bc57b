import { MemoryRateLimitStore } from '../../src/limits/memory-store.js';
import { describeRateLimitStore } from './store-contract.js';

describeRateLimitStore('memory', () => new MemoryRateLimitStore());
