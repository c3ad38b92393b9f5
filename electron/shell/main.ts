/**
 * Electron main process: app lifecycle and one locked-down window (contextIsolation, sandbox, no node
 * integration, DevTools only in development, strict CSP, no new windows, no navigation away, every permission
 * refused), its renderer served from app:// (app-protocol.ts). The engine runs in worker threads owned by the
 * InspectorService; this file only wires it to the window.
 */
import * as path from 'node:path';
import { app, BrowserWindow, Menu, protocol, session, type Session } from 'electron';
import { APP_SCHEME, APP_SCHEME_PRIVILEGES, CSP, RENDERER_URL, answerAppRequest, isTrustedUrl } from './app-protocol';
import { InspectorService } from '../engine/service';
import { bindIpc } from './ipc';
import { buildMenu } from './menu';

const RENDERER_DIR = path.join(__dirname, '..', 'renderer');

// Before the app is ready: app:// behaves like https (standard, secure), so the page gets an origin of its own.
protocol.registerSchemesAsPrivileged([{ scheme: APP_SCHEME, privileges: APP_SCHEME_PRIVILEGES }]);

/** The session's rules: our renderer over app://, the CSP on every response, every permission asked or checked refused. */
export function lockDownSession(s: Session): void {
  s.protocol.handle(APP_SCHEME, (request) => answerAppRequest(request.url, RENDERER_DIR));
  s.webRequest.onHeadersReceived((details, callback) => {
    callback({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [CSP] } });
  });
  s.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
  s.setPermissionCheckHandler(() => false);
}

export async function createWindow(service: InspectorService, bindEvents: (window: BrowserWindow) => () => void): Promise<BrowserWindow> {
  const window = new BrowserWindow({
    width: 1440,
    height: 900,
    title: 'CNN Inspector',
    backgroundColor: '#10141a',
    webPreferences: {
      preload: path.join(__dirname, 'preload.cjs'),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      webSecurity: true,
      spellcheck: false,
      devTools: !app.isPackaged,
    },
  });
  window.webContents.setWindowOpenHandler(() => ({ action: 'deny' }));
  window.webContents.on('will-navigate', (event, url) => {
    if (!isTrustedUrl(url)) event.preventDefault();
  });
  window.on('closed', bindEvents(window));
  Menu.setApplicationMenu(buildMenu(window, service, { devTools: !app.isPackaged }));
  await window.loadURL(RENDERER_URL);
  return window;
}

app.whenReady().then(async () => {
  lockDownSession(session.defaultSession);
  const service = new InspectorService({ transport: 'electron' });
  await service.openModel({});
  await service.openDataset({});
  const bind = bindIpc(service, isTrustedUrl);
  const bindEvents = (window: BrowserWindow) => bind(window.webContents);
  await createWindow(service, bindEvents);
  app.on('activate', () => {
    if (BrowserWindow.getAllWindows().length === 0) void createWindow(service, bindEvents);
  });
  app.on('before-quit', () => void service.dispose());
});

app.on('window-all-closed', () => {
  if (process.platform !== 'darwin') app.quit();
});
