import { describe, it } from 'vitest';
import { memoryStore } from '../../src/stores/memory.ts';
import { runStoreConformance } from '../../src/stores/testing.ts';

runStoreConformance({ describe, it }, { name: 'memory', createStore: () => memoryStore() });
