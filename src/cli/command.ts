/** The shape of one CLI subcommand. Commands live one per file in ./commands/. */
export interface CliIO {
  out: (line: string) => void;
  err: (line: string) => void;
}

export interface Command {
  /** e.g. "bank", "model", "tokenize". */
  name: string;
  /** One line for `zipbank help`. */
  summary: string;
  /** Full usage text for `zipbank <name> --help`. */
  usage: string;
  /** Returns the process exit code. */
  run(args: string[], io: CliIO): Promise<number>;
}

export type Subcommand = (args: string[], io: CliIO) => Promise<number>;

/** A `run` that dispatches on the first argument to a table of subcommands. */
export function dispatch(subcommands: Record<string, Subcommand>, usageError: (message: string) => Error): Command['run'] {
  return async (args, io) => {
    const [sub, ...rest] = args;
    if (!sub) throw usageError('missing subcommand');
    const run = Object.prototype.hasOwnProperty.call(subcommands, sub) ? subcommands[sub] : undefined;
    if (!run) throw usageError(`unknown subcommand "${sub}"`);
    return run(rest, io);
  };
}
