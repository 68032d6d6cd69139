/** Logs kept per invocation; what goes beyond the limit is counted, and a marker says how much was cut. */
export const LOG_LIMIT_CHARS = 64 * 1024;

export class LogBuffer {
  private parts: string[] = [];
  private kept = 0;
  private dropped = 0;

  constructor(private readonly limit = LOG_LIMIT_CHARS) {}

  append(text: string): void {
    if (this.kept >= this.limit) {
      this.dropped += text.length;
      return;
    }
    const room = this.limit - this.kept;
    if (text.length > room) {
      this.dropped += text.length - room;
      text = text.slice(0, room);
    }
    this.parts.push(text);
    this.kept += text.length;
  }

  toString(): string {
    const text = this.parts.join('');
    return this.dropped ? `${text}\n...[logs truncated: ${this.dropped} more characters]` : text;
  }
}
