import { MemoryScopeStore } from '../../src/scopes/memory-store.js';
import { describeScopeStore } from './store-contract.js';

describeScopeStore('memory', () => new MemoryScopeStore());
