import { ConfigError, loadConfig } from './config.ts';
import { createLogger } from './logger.ts';
import { startService } from './service.ts';

/** Composition root: parse config, start, listen, and close gracefully on SIGTERM/SIGINT. */
async function main(): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`siaga112: ${error.message}`);
      process.exit(2);
    }
    throw error;
  }
  const logger = createLogger(config.logLevel, { instance: config.instanceId });
  const service = await startService(config, logger);
  await service.app.listen({ host: config.http.host, port: config.http.port });

  const stop = async (signal: string) => {
    logger.info({ signal }, 'stopping');
    // A close waiting on a Redis that does not answer would never end: past the bound the process
    // goes anyway. The next instance picks up what it left: calls from Redis and Asterisk, record
    // writes already queued from Redis.
    setTimeout(() => {
      logger.error(
        { signal, timeoutSeconds: config.shutdownTimeoutSeconds },
        'shutdown did not finish in time; exiting',
      );
      process.exit(1);
    }, config.shutdownTimeoutSeconds * 1000);
    try {
      await service.close();
    } catch (error) {
      logger.error({ err: error }, 'shutdown failed');
      process.exit(1);
    }
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}

await main();
