import { MemoryLockdownStore } from '../../src/lockdown/memory-store.js';
import { describeLockdownStore } from './store-contract.js';

describeLockdownStore('memory', () => new MemoryLockdownStore());
