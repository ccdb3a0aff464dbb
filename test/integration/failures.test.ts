import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Liveness } from '../../src/generated/dkv/v1/admin.js';
import { Cluster, type TestNode } from '../helpers/cluster.js';
import { eventually } from '../helpers/eventually.js';

async function livenessOf(observer: TestNode, target: string): Promise<Liveness> {
  const c = observer.client();
  try {
    const s = await c.status();
    return s.members.find((m) => m.nodeId === target)?.liveness ?? Liveness.LIVENESS_UNSPECIFIED;
  } finally {
    c.close();
  }
}

const count = (logs: string[], re: RegExp) => logs.filter((l) => re.test(l)).length;

describe('failure detection by gossip (real processes)', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await Cluster.start(3);
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('T6: a SIGSTOPped node is DOWN everywhere within 10 s and UP within 5 s of SIGCONT, once each way', async () => {
    const [, , victim] = cluster.nodes;
    const observers = cluster.nodes.filter((n) => n !== victim);
    const stoppedAt = Date.now();
    await victim.kill('SIGSTOP');
    try {
      await eventually(
        async () => {
          for (const o of observers) if ((await livenessOf(o, victim.id)) !== Liveness.LIVENESS_DOWN) throw new Error(`${o.id} does not see ${victim.id} down yet`);
        },
        { timeoutMs: 10_000, intervalMs: 100, what: 'DOWN on every other node' },
      );
      const downAfter = Date.now() - stoppedAt;
      // Hold the node stopped a little longer, as T6 does (5-15 s).
      await new Promise((r) => setTimeout(r, 1_000));
      const contAt = Date.now();
      await victim.kill('SIGCONT');
      await eventually(
        async () => {
          for (const o of observers) if ((await livenessOf(o, victim.id)) !== Liveness.LIVENESS_UP) throw new Error(`${o.id} does not see ${victim.id} up yet`);
        },
        { timeoutMs: 5_000, intervalMs: 100, what: 'UP on every other node' },
      );
      const upAfter = Date.now() - contAt;
      process.stdout.write(`T6: DOWN everywhere ${downAfter} ms after SIGSTOP; UP everywhere ${upAfter} ms after SIGCONT\n`);
      for (const o of observers) {
        expect(count(o.logs, new RegExp(`${victim.id} is DOWN`))).toBe(1);
        expect(count(o.logs, new RegExp(`${victim.id} is UP again`))).toBe(1);
      }
      // The paused node itself must not have declared its healthy peers dead.
      expect(count(victim.logs, /is DOWN/)).toBe(0);
    } finally {
      await victim.kill('SIGCONT');
    }
  });
});
