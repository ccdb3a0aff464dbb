/** Logger is the node's log sink; tests pass a silent or capturing one. */
export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
const ORDER: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3, silent: 4 };

/** consoleLogger writes "LEVEL [node] message" lines to stderr at or above `level`. */
export function consoleLogger(node: string, level: LogLevel = 'info'): Logger {
  const at = ORDER[level];
  const line = (l: LogLevel, msg: string) => {
    if (ORDER[l] >= at) process.stderr.write(`${new Date().toISOString()} ${l.toUpperCase().padEnd(5)} [${node}] ${msg}\n`);
  };
  return {
    debug: (m) => line('debug', m),
    info: (m) => line('info', m),
    warn: (m) => line('warn', m),
    error: (m) => line('error', m),
  };
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
