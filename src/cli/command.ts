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
