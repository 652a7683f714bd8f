// Errors a command reports as a plain message and exit code 2 (no stack trace): the
// user's input is wrong, not the program.

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}
