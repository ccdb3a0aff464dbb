import { describe, expect, it } from 'vitest';
import { local, validateConfig } from '../../../src/node/config.js';

describe('node config: LevelDB open tables', () => {
  it('defaults to 128 open (memory-mapped) tables, which bounds the file-backed RSS', () => {
    expect(local().levelMaxOpenFiles).toBe(128);
    expect(validateConfig(local({ levelMaxOpenFiles: 1000 })).levelMaxOpenFiles).toBe(1000);
  });

  it('refuses a value outside [20, 100000], naming the flag and the limit', () => {
    expect(() => validateConfig(local({ levelMaxOpenFiles: 5 }))).toThrow(/level-max-open-files.*\[20, 100000\].*5/);
    expect(() => validateConfig(local({ levelMaxOpenFiles: 1.5 }))).toThrow(/level-max-open-files/);
  });
});
