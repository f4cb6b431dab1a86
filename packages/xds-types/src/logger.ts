/**
 * The logger every xdskit component accepts. Nothing is printed unless the
 * host passes one; `console` fits, and so do pino and winston.
 */
export interface Logger {
  /** Detail for debugging: every request, every push. */
  debug(message: string, fields?: Record<string, unknown>): void;
  /** What happened: connections, NACKs, pushes. */
  info(message: string, fields?: Record<string, unknown>): void;
  /** Something was refused or went wrong and was handled (the last good config stays). */
  warn(message: string, fields?: Record<string, unknown>): void;
  /** Something went wrong that needs a look. */
  error(message: string, fields?: Record<string, unknown>): void;
}

const noop = () => {};

/** A logger that drops everything: the default. */
export const silentLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop };
