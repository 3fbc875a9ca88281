/**
 * The Asterisk emulator in its own process for benchmarks, so it does not share the service's
 * event loop (real Asterisk does not). Driven over IPC by bench/ring-latency.ts: it declares the
 * takers, places the calls and measures, on its own clock, from each caller's channel to the
 * first taker channel rung for it.
 */
import { startAsteriskEmulator } from '../src/emulator/asterisk-emulator.ts';

interface Start {
  kind: 'start';
  password: string;
  takers: number;
}
interface Run {
  kind: 'run';
  calls: number;
  spacingMs: number;
}

const send = (message: unknown) => process.send?.(message);
let emulator: Awaited<ReturnType<typeof startAsteriskEmulator>> | undefined;

process.on('message', async (message: Start | Run) => {
  if (message.kind === 'start') {
    emulator = await startAsteriskEmulator({
      username: 'siaga112',
      password: message.password,
      sounds: { 'sound:siaga112/greeting': 3000 },
      validateEvents: false,
    });
    for (let i = 1; i <= message.takers; i++) {
      emulator.setEndpoint(`PJSIP/taker${i}`, { answer: 'after', delayMs: 30, hangupAfterMs: 100 });
    }
    send({ kind: 'ready', url: emulator.url });
    return;
  }
  if (message.kind === 'run' && emulator) {
    const ring: number[] = [];
    let waitingFor: { arrivedAt: number } | undefined;
    emulator.on('channel-created', ({ channel, kind, at }) => {
      if (kind === 'originated' && channel.id.startsWith('siaga112-offer-') && waitingFor) {
        ring.push(at - waitingFor.arrivedAt);
        waitingFor = undefined;
      }
    });
    const calls = [];
    for (let i = 0; i < message.calls; i++) {
      const arrivedAt = performance.now();
      waitingFor = { arrivedAt };
      calls.push(emulator.placeCall({ from: `0812${String(10_000_000 + i)}` }));
      await new Promise((resolve) => setTimeout(resolve, message.spacingMs));
    }
    await Promise.all(calls.map((c) => c.ended));
    send({ kind: 'result', ring });
    await emulator.stop();
    process.exit(0);
  }
});
