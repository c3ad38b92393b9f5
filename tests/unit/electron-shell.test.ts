/**
 * The Electron shell (main.ts, preload.ts, ipc.ts, menu.ts, app-protocol.ts) without Electron: a stand-in for the
 * `electron` module records what each file asks Electron for, and the tests assert it — the window's security
 * settings, navigation and window-open blocking, the app:// protocol's confinement and CSP, permission refusal,
 * the IPC sender check, and that the preload exposes exactly the contract.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { COMMANDS, EVENT_SUBSCRIPTIONS } from '../../shared/contract';
import { APP_ORIGIN, CSP, RENDERER_URL, answerAppRequest, isTrustedUrl, rendererFileFor } from '../../electron/shell/app-protocol';

type Handler = (...args: never[]) => unknown;

/** Everything the shell asked Electron for. */
const asked = vi.hoisted(() => ({
  privileged: [] as unknown[],
  windows: [] as Array<{
    options: Record<string, unknown>;
    events: Map<string, Handler>;
    contents: { events: Map<string, Handler>; openHandler?: Handler; sent: unknown[] };
    loaded: string[];
  }>,
  protocolHandlers: new Map<string, Handler>(),
  headersHandler: undefined as Handler | undefined,
  permissionRequest: undefined as Handler | undefined,
  permissionCheck: undefined as Handler | undefined,
  ipcHandlers: new Map<string, Handler>(),
  menus: [] as unknown[],
  exposed: new Map<string, unknown>(),
  invoked: [] as unknown[][],
  invokeReply: { ok: true, value: 'pong' } as unknown,
  appEvents: new Map<string, Handler>(),
  isPackaged: true,
}));

vi.mock('electron', () => {
  class BrowserWindow {
    static getAllWindows = () => asked.windows;
    webContents: {
      events: Map<string, Handler>;
      openHandler?: Handler;
      sent: unknown[];
      setWindowOpenHandler(h: Handler): void;
      on(e: string, h: Handler): void;
      isDestroyed(): boolean;
      send(...a: unknown[]): void;
    };
    private record: (typeof asked.windows)[number];
    constructor(options: Record<string, unknown>) {
      const contents = {
        events: new Map<string, Handler>(),
        openHandler: undefined as Handler | undefined,
        sent: [] as unknown[],
        setWindowOpenHandler(h: Handler) {
          this.openHandler = h;
        },
        on(e: string, h: Handler) {
          this.events.set(e, h);
        },
        isDestroyed: () => false,
        send(...a: unknown[]) {
          this.sent.push(a);
        },
      };
      this.webContents = contents;
      this.record = { options, events: new Map(), contents, loaded: [] };
      asked.windows.push(this.record);
    }
    on(event: string, h: Handler) {
      this.record.events.set(event, h);
    }
    async loadURL(url: string) {
      this.record.loaded.push(url);
    }
  }
  const fakeSession = {
    protocol: { handle: (scheme: string, h: Handler) => asked.protocolHandlers.set(scheme, h) },
    webRequest: { onHeadersReceived: (h: Handler) => (asked.headersHandler = h) },
    setPermissionRequestHandler: (h: Handler) => (asked.permissionRequest = h),
    setPermissionCheckHandler: (h: Handler) => (asked.permissionCheck = h),
  };
  const electron = {
    app: {
      get isPackaged() {
        return asked.isPackaged;
      },
      whenReady: () => Promise.resolve(),
      on: (e: string, h: Handler) => asked.appEvents.set(e, h),
      quit: () => undefined,
      getVersion: () => '0.0.0-test',
    },
    BrowserWindow,
    Menu: {
      buildFromTemplate: (template: unknown) => ({ template }),
      setApplicationMenu: (menu: unknown) => asked.menus.push(menu),
    },
    protocol: { registerSchemesAsPrivileged: (s: unknown) => asked.privileged.push(s) },
    session: { defaultSession: fakeSession },
    dialog: { showOpenDialog: async () => ({ canceled: true, filePaths: [] }), showMessageBox: async () => ({}) },
    shell: { openExternal: async () => undefined },
    ipcMain: { handle: (channel: string, h: Handler) => asked.ipcHandlers.set(channel, h) },
    contextBridge: { exposeInMainWorld: (key: string, value: unknown) => asked.exposed.set(key, value) },
    ipcRenderer: {
      invoke: async (...args: unknown[]) => {
        asked.invoked.push(args);
        return asked.invokeReply;
      },
      on: () => undefined,
      removeListener: () => undefined,
    },
  };
  return { ...electron, default: electron };
});

// The engine is not under test here: a service that answers every command with its name and params.
vi.mock('../../electron/engine/service', () => ({
  InspectorService: class {
    constructor() {
      return new Proxy(
        {},
        {
          get: (_t, name: string) => (name.startsWith('on') ? () => () => undefined : async (params: unknown) => ({ answered: name, params })),
        },
      );
    }
  },
}));

const flush = () => new Promise((resolve) => setTimeout(resolve, 0));

describe('the main process (main.ts) with a stand-in Electron', () => {
  beforeAll(async () => {
    await import('../../electron/shell/main');
    await flush();
    await flush();
  });

  it('registers app:// as a privileged standard, secure scheme before the app is ready', () => {
    expect(asked.privileged).toEqual([[{ scheme: 'app', privileges: expect.objectContaining({ standard: true, secure: true }) }]]);
  });

  it('opens one window with context isolation, the sandbox, no node integration and no DevTools (packaged), on app://', () => {
    expect(asked.windows).toHaveLength(1);
    const prefs = asked.windows[0].options.webPreferences as Record<string, unknown>;
    expect(prefs).toMatchObject({ contextIsolation: true, sandbox: true, nodeIntegration: false, webSecurity: true, devTools: false });
    expect(String(prefs.preload)).toMatch(/preload\.cjs$/);
    expect(asked.windows[0].options.title).toBe('CNN Inspector');
    expect(asked.windows[0].loaded).toEqual([RENDERER_URL]);
    // The packaged menu has no DevTools item.
    const view = (asked.menus[0] as { template: Array<{ label: string; submenu: Array<{ role?: string }> }> }).template.find((m) => m.label === 'View')!;
    expect(view.submenu.map((i) => i.role)).not.toContain('toggleDevTools');
  });

  it('denies every new window and every navigation away from the renderer', () => {
    const contents = asked.windows[0].contents;
    expect(contents.openHandler!({ url: 'https://example.org' } as never)).toEqual({ action: 'deny' });
    const navigate = contents.events.get('will-navigate')!;
    for (const [url, blocked] of [
      ['https://example.org/', true],
      ['file:///etc/passwd', true],
      ['app://other/index.html', true],
      [`${APP_ORIGIN}/index.html#x`, false],
    ] as const) {
      let prevented = false;
      navigate({ preventDefault: () => (prevented = true) } as never, url as never);
      expect(prevented, url).toBe(blocked);
    }
  });

  it('refuses every permission request and check, and sets the CSP (no ws: or wss:) on responses', () => {
    let granted: boolean | undefined;
    asked.permissionRequest!({} as never, 'media' as never, ((ok: boolean) => (granted = ok)) as never);
    expect(granted).toBe(false);
    expect(asked.permissionCheck!({} as never, 'notifications' as never)).toBe(false);
    let headers: Record<string, string[]> | undefined;
    asked.headersHandler!(
      { responseHeaders: { 'X-Other': ['1'] } } as never,
      ((r: { responseHeaders: Record<string, string[]> }) => (headers = r.responseHeaders)) as never,
    );
    expect(headers).toEqual({ 'X-Other': ['1'], 'Content-Security-Policy': [CSP] });
    expect(CSP).not.toMatch(/\bwss?:/);
    expect(CSP).toMatch(/script-src 'self'/);
  });

  it('serves app:// through the protocol handler it registered', async () => {
    const handler = asked.protocolHandlers.get('app')!;
    const response = (await handler({ url: `${APP_ORIGIN}/does-not-exist.js` } as never)) as Response;
    expect(response.status).toBe(404);
    expect(response.headers.get('content-security-policy')).toBe(CSP);
  });

  it('answers IPC calls only from the renderer page, top frame, with the payload validated', async () => {
    const call = asked.ipcHandlers.get('inspector:call')!;
    const from = (url: string, parent: unknown = null) => ({ senderFrame: { url, parent } });
    expect(await call(from('https://example.org/') as never, 'getState' as never, {} as never)).toMatchObject({ ok: false, error: { code: 'UNAUTHORIZED' } });
    expect(await call(from(RENDERER_URL, { url: RENDERER_URL }) as never, 'getState' as never, {} as never)).toMatchObject({
      ok: false,
      error: { code: 'UNAUTHORIZED' },
    });
    expect(await call({ senderFrame: null } as never, 'getState' as never, {} as never)).toMatchObject({ ok: false, error: { code: 'UNAUTHORIZED' } });
    expect(await call(from(RENDERER_URL) as never, 'noSuchCommand' as never, {} as never)).toMatchObject({ ok: false, error: { code: 'UNKNOWN_COMMAND' } });
    expect(await call(from(RENDERER_URL) as never, 'getState' as never, {} as never)).toEqual({ ok: true, value: { answered: 'getState', params: {} } });
  });

  it('quits when the last window closes (not on macOS)', () => {
    expect(asked.appEvents.has('window-all-closed')).toBe(true);
    expect(asked.appEvents.has('before-quit')).toBe(true);
  });
});

describe('the preload (preload.ts) with a stand-in Electron', () => {
  beforeAll(async () => {
    await import('../../electron/shell/preload');
  });

  it('exposes one object, window.inspector, with exactly the contract: its commands and one subscription per event', () => {
    expect([...asked.exposed.keys()]).toEqual(['inspector']);
    const inspector = asked.exposed.get('inspector') as Record<string, unknown>;
    const expected = [...COMMANDS, ...Object.values(EVENT_SUBSCRIPTIONS)].sort();
    expect(expected).toContain('onLeadChanged');
    expect(Object.keys(inspector).sort()).toEqual(expected);
    expect(Object.values(inspector).every((v) => typeof v === 'function')).toBe(true);
    expect(Object.keys(inspector)).not.toContain('ipcRenderer');
  });

  it('a command is one invoke on the call channel; a refusal comes back as an error with its code', async () => {
    const inspector = asked.exposed.get('inspector') as Record<string, (p: unknown) => Promise<unknown>>;
    asked.invokeReply = { ok: true, value: 'pong' };
    await expect(inspector.getState({})).resolves.toBe('pong');
    expect(asked.invoked.at(-1)).toEqual(['inspector:call', 'getState', {}]);
    asked.invokeReply = { ok: false, error: { code: 'PATH_NOT_ALLOWED', message: 'no' } };
    await expect(inspector.openModel({ path: '/etc' })).rejects.toMatchObject({ code: 'PATH_NOT_ALLOWED' });
  });
});

describe('the menu (menu.ts) in a development build', () => {
  it('offers the DevTools only when asked to', async () => {
    const { buildMenu } = await import('../../electron/shell/menu');
    const roles = (devTools: boolean) => {
      const menu = buildMenu({} as never, {} as never, { devTools }) as unknown as { template: Array<{ label: string; submenu: Array<{ role?: string }> }> };
      return menu.template.find((m) => m.label === 'View')!.submenu.map((i) => i.role);
    };
    expect(roles(true)).toContain('toggleDevTools');
    expect(roles(false)).not.toContain('toggleDevTools');
  });
});

describe('app:// confinement (app-protocol.ts)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'app-protocol-'));
  const renderer = path.join(dir, 'renderer');
  beforeAll(() => {
    fs.mkdirSync(path.join(renderer, 'assets'), { recursive: true });
    fs.writeFileSync(path.join(renderer, 'index.html'), '<!doctype html><title>CNN Inspector</title>');
    fs.writeFileSync(path.join(renderer, 'assets', 'app.js'), 'console.log(1)');
    fs.writeFileSync(path.join(dir, 'secret.txt'), 'outside');
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('serves files inside the renderer folder with their type and the CSP', async () => {
    const page = answerAppRequest(`${APP_ORIGIN}/index.html`, renderer);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.headers.get('content-security-policy')).toBe(CSP);
    expect(await page.text()).toContain('CNN Inspector');
    expect(answerAppRequest(`${APP_ORIGIN}/`, renderer).status).toBe(200);
    const script = answerAppRequest(`${APP_ORIGIN}/assets/app.js?v=1`, renderer);
    expect(script.headers.get('content-type')).toMatch(/^text\/javascript/);
  });

  it('refuses paths that climb out (plain, encoded, backslashed), other hosts, other schemes, folders and missing files', async () => {
    for (const url of [
      `${APP_ORIGIN}/../secret.txt`,
      `${APP_ORIGIN}/%2e%2e/secret.txt`,
      `${APP_ORIGIN}/assets/%2e%2e%2f%2e%2e%2fsecret.txt`,
      `${APP_ORIGIN}/..%5csecret.txt`,
      `${APP_ORIGIN}/%00index.html`,
      `${APP_ORIGIN}/%E0%A4%A`,
      'app://elsewhere/index.html',
      `file://${renderer}/index.html`,
      `${APP_ORIGIN}/assets`,
      `${APP_ORIGIN}/missing.js`,
    ]) {
      const answer = answerAppRequest(url, renderer);
      expect(answer.status, url).toBe(404);
      expect(await answer.text(), url).not.toContain('outside');
    }
    expect(rendererFileFor(`${APP_ORIGIN}/%2e%2e/secret.txt`, renderer)).not.toBe(path.join(dir, 'secret.txt'));
  });

  it('trusts only its own origin', () => {
    expect(isTrustedUrl(RENDERER_URL)).toBe(true);
    expect(isTrustedUrl('app://cnn-inspector.evil/index.html')).toBe(false);
    expect(isTrustedUrl(`file://${renderer}/index.html`)).toBe(false);
  });
});
