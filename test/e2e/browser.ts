/**
 * A real headless Chromium (Debian's `chromium` package), driven over the DevTools protocol on a
 * pipe (`--remote-debugging-pipe`: fds 3 and 4, NUL-separated JSON), so no WebSocket client or
 * browser library is needed. Records console messages, exceptions, log entries and every
 * request the page makes.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';

/** DevTools protocol messages: untyped JSON, read only by the assertions of the tests. */
// biome-ignore lint/suspicious/noExplicitAny: the protocol's messages are untyped JSON
type Dyn = any;

export const CHROMIUM = process.env.CHROMIUM ?? 'chromium';

/** Chromium's version, or a message saying how to install it (tests fail with it: CI installs it). */
export const chromiumVersion = (): { version?: string; missing?: string } => {
  const r = spawnSync(CHROMIUM, ['--version'], { encoding: 'utf8' });
  if (r.status === 0) return { version: r.stdout.trim() };
  return {
    missing: `Chromium is not installed (${CHROMIUM} --version: ${r.error?.message ?? r.stderr.trim()}): install it with apt-get install -y chromium (Debian; .ci/run does), or set CHROMIUM to its path`,
  };
};

export interface PageEvents {
  /** Console messages of level error, uncaught exceptions and browser log entries of level error. */
  readonly errors: string[];
  /** Every URL the page requested. */
  readonly requests: string[];
}

export class Browser {
  private readonly child: ChildProcess;
  private readonly profile: string;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (v: Dyn) => void; reject: (e: Error) => void }>();
  private readonly listeners: ((method: string, params: Dyn, sessionId?: string) => void)[] = [];
  private buffer = '';
  private session: string | undefined;
  readonly events: PageEvents = { errors: [], requests: [] };

  constructor() {
    this.profile = mkdtempSync(join(tmpdir(), 'report-chromium-'));
    this.child = spawn(
      CHROMIUM,
      [
        '--headless=new',
        '--disable-gpu',
        '--no-sandbox',
        '--no-first-run',
        '--no-default-browser-check',
        '--disable-extensions',
        '--remote-debugging-pipe',
        `--user-data-dir=${this.profile}`,
        'about:blank',
      ],
      // A group of its own: Debian's chromium is a wrapper script, and the browser's helper
      // processes outlive a kill of the child; close() ends the whole group.
      { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'], detached: true },
    );
    this.child.stderr!.resume();
    (this.child.stdio[4] as Readable).on('data', (chunk: Buffer) => {
      this.buffer += chunk.toString('utf8');
      for (let end = this.buffer.indexOf('\0'); end >= 0; end = this.buffer.indexOf('\0')) {
        const message = JSON.parse(this.buffer.slice(0, end));
        this.buffer = this.buffer.slice(end + 1);
        if (message.id !== undefined) {
          const w = this.waiting.get(message.id);
          this.waiting.delete(message.id);
          if (message.error) w?.reject(new Error(`${message.error.message} (${message.error.code})`));
          else w?.resolve(message.result);
        } else for (const l of this.listeners) l(message.method, message.params, message.sessionId);
      }
    });
    this.listeners.push((method, params) => {
      if (method === 'Runtime.consoleAPICalled' && (params.type === 'error' || params.type === 'assert'))
        this.events.errors.push(
          `console.${params.type}: ${params.args.map((a: Dyn) => a.value ?? a.description).join(' ')}`,
        );
      if (method === 'Runtime.exceptionThrown')
        this.events.errors.push(`exception: ${params.exceptionDetails.text}`);
      if (method === 'Log.entryAdded' && params.entry.level === 'error')
        this.events.errors.push(`${params.entry.source}: ${params.entry.text}`);
      if (method === 'Network.requestWillBeSent') this.events.requests.push(params.request.url);
    });
  }

  /** Sends a command (to the page's session once one is open). */
  send<T = Dyn>(method: string, params: Record<string, unknown> = {}, browserLevel = false): Promise<T> {
    const id = this.nextId++;
    const message = {
      id,
      method,
      params,
      ...(this.session && !browserLevel ? { sessionId: this.session } : {}),
    };
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      (this.child.stdio[3] as Writable).write(`${JSON.stringify(message)}\0`);
    });
  }

  private once(method: string, timeoutMs: number): Promise<Dyn> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${method} within ${timeoutMs} ms`)), timeoutMs);
      const listener = (m: string, params: Dyn) => {
        if (m !== method) return;
        clearTimeout(timer);
        this.listeners.splice(this.listeners.indexOf(listener), 1);
        resolve(params);
      };
      this.listeners.push(listener);
    });
  }

  /** Opens a page of `width` × `height` CSS pixels, with console, log and network recorded. */
  async open(width: number, height: number): Promise<void> {
    const { targetId } = await this.send('Target.createTarget', { url: 'about:blank' }, true);
    const { sessionId } = await this.send('Target.attachToTarget', { targetId, flatten: true }, true);
    this.session = sessionId;
    for (const domain of ['Page', 'Runtime', 'Log', 'Network']) await this.send(`${domain}.enable`);
    await this.resize(width, height);
  }

  resize(width: number, height: number): Promise<void> {
    return this.send('Emulation.setDeviceMetricsOverride', {
      width,
      height,
      deviceScaleFactor: 1,
      mobile: false,
    });
  }

  /** Loads `url` and waits for its load event. */
  async goto(url: string, timeoutMs = 30_000): Promise<void> {
    const loaded = this.once('Page.loadEventFired', timeoutMs);
    const r = await this.send('Page.navigate', { url });
    if (r.errorText) throw new Error(`${url}: ${r.errorText}`);
    await loaded;
  }

  /** The value of a JavaScript expression evaluated in the page (for assertions only: the page has no script). */
  async evaluate<T>(expression: string): Promise<T> {
    const r = await this.send('Runtime.evaluate', { expression, returnByValue: true });
    if (r.exceptionDetails) throw new Error(`${expression}: ${r.exceptionDetails.text}`);
    return r.result.value as T;
  }

  /** A PNG of the whole page (not only the viewport). */
  async screenshot(): Promise<Buffer> {
    const metrics = await this.send('Page.getLayoutMetrics');
    const { width, height } = metrics.cssContentSize;
    const r = await this.send('Page.captureScreenshot', {
      format: 'png',
      captureBeyondViewport: true,
      clip: { x: 0, y: 0, width, height: Math.min(height, 8000), scale: 1 },
    });
    return Buffer.from(r.data, 'base64');
  }

  async close(): Promise<void> {
    try {
      await Promise.race([this.send('Browser.close', {}, true), new Promise((r) => setTimeout(r, 3000))]);
    } catch {
      // Closing is best effort: the process is ended below in Dyn case.
    }
    const group = -this.child.pid!;
    const alive = () => {
      try {
        process.kill(group, 0);
        return true;
      } catch {
        return false;
      }
    };
    if (alive()) process.kill(group, 'SIGKILL');
    for (let i = 0; i < 100 && alive(); i++) await new Promise((r) => setTimeout(r, 50));
    // What the last processes wrote as they went is retried on ENOTEMPTY/EBUSY.
    rmSync(this.profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
  }
}
