/**
 * Starts the Asterisk emulator standalone for manual runs:
 *
 *   node src/emulator/emulator-cli.ts [--host 127.0.0.1] [--port 8088] [--username siaga112]
 *     [--password siaga112] [--takers 2] [--time-scale 1] [--ami-port <port>]
 *
 * Defaults are in brackets. It declares PJSIP/taker1..N (answering after 2 s) and the sound
 * `sound:siaga112/greeting` (4 s); with --ami-port it also serves AMI there (same user and
 * password). On stdin: `call <from> [speak-seconds]` places a call, `hangup <channelId>` hangs up
 * its far end, `drop` drops the events WebSockets, `unreachable <endpoint>` / `reachable
 * <endpoint>` flips a phone (e.g. PJSIP/taker1). Ctrl-C stops it.
 */
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { startAsteriskEmulator } from './asterisk-emulator.ts';

const { values } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '8088' },
    username: { type: 'string', default: 'siaga112' },
    password: { type: 'string', default: 'siaga112' },
    takers: { type: 'string', default: '2' },
    'time-scale': { type: 'string', default: '1' },
    'ami-port': { type: 'string' },
  },
});

const emulator = await startAsteriskEmulator({
  host: values.host,
  port: Number(values.port),
  username: values.username,
  password: values.password,
  timeScale: Number(values['time-scale']),
  sounds: { 'sound:siaga112/greeting': 4_000 },
  ...(values['ami-port'] === undefined
    ? {}
    : {
        ami: {
          host: values.host,
          port: Number(values['ami-port']),
          username: values.username,
          secret: values.password,
        },
      }),
});
for (let i = 1; i <= Number(values.takers); i += 1) {
  emulator.setEndpoint(`PJSIP/taker${i}`, { answer: 'after', delayMs: 2_000 });
}
emulator.on('violation', (v) =>
  process.stderr.write(`spec violation (${v.kind}) ${v.where}: ${v.errors.join('; ')}\n`),
);
process.stdout.write(`Asterisk emulator listening on ${emulator.url}/ari (user ${values.username})\n`);
if (emulator.ami) process.stdout.write(`AMI on ${emulator.ami.host}:${emulator.ami.port}\n`);

const commands = createInterface({ input: process.stdin });
commands.on('line', (line) => {
  const [command, arg, extra] = line.trim().split(/\s+/);
  if (command === 'call') {
    const call = emulator.placeCall({ from: arg ?? '', caller: [{ speak: Number(extra ?? 5) }] });
    process.stdout.write(`call ${call.channelId}: ${call.outcome}\n`);
    call.ended.then((end) => process.stdout.write(`call ${end.channelId} ended by ${end.hungUpBy}\n`));
  } else if (command === 'hangup' && arg) {
    process.stdout.write(emulator.hangupChannel(arg) ? 'hung up\n' : 'no such channel\n');
  } else if (command === 'drop') {
    emulator.dropWebSockets();
  } else if ((command === 'unreachable' || command === 'reachable') && arg) {
    const known = emulator.setEndpointReachable(arg, command === 'reachable');
    process.stdout.write(known ? `${arg} ${command}\n` : 'no such phone\n');
  } else if (command) {
    process.stdout.write(
      'commands: call <from> [speak-seconds] | hangup <channelId> | drop | unreachable|reachable <endpoint>\n',
    );
  }
});

const shutdown = (): void => {
  commands.close();
  emulator.stop().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.once('SIGINT', shutdown);
process.once('SIGTERM', shutdown);
