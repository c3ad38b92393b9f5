/**
 * Electron main process: app lifecycle and one locked-down window (contextIsolation, sandbox, no node
 * integration, strict CSP, no new windows, no navigation away). The engine runs in worker threads owned by
 * the InspectorService; this file only wires it to the window.
 */
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { app, BrowserWindow, Menu, session } from 'electron';
import { InspectorService } from './engine/service';
import { bindIpc } from './ipc';
import { buildMenu } from './menu';

const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'", // ECharts and Vue set inline styles
  "img-src 'self' blob: data:",
  "font-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const rendererIndex = path.join(__dirname, '..', 'renderer', 'index.html');
const rendererUrl = pathToFileURL(rendererIndex).toString();
const rendererRoot = pathToFileURL(path.dirname(rendererIndex)).toString();
const isTrustedUrl = (url: string) => url === rendererUrl || url.startsWith(`${rendererRoot}/`);

async function createWindow(service: InspectorService): Promise<void> {
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
    },
  });
  window.webContents.setWindowOpenHandler(() => ({ action: 'deny' }));
  window.webContents.on('will-navigate', (event, url) => {
    if (!isTrustedUrl(url)) event.preventDefault();
  });
  const unbind = bindEvents(window);
  window.on('closed', unbind);
  Menu.setApplicationMenu(buildMenu(window, service));
  await window.loadURL(rendererUrl);
}

let bindEvents: (window: BrowserWindow) => () => void;

app.whenReady().then(async () => {
  session.defaultSession.webRequest.onHeadersReceived((details, callback) => {
    callback({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [CSP] } });
  });
  session.defaultSession.setPermissionRequestHandler((_wc, _permission, callback) => callback(false));
  const service = new InspectorService({ transport: 'electron' });
  await service.openModel({});
  await service.openDataset({});
  const bind = bindIpc(service, isTrustedUrl);
  bindEvents = (window) => bind(window.webContents);
  await createWindow(service);
  app.on('activate', () => {
    if (BrowserWindow.getAllWindows().length === 0) void createWindow(service);
  });
  app.on('before-quit', () => void service.dispose());
});

app.on('window-all-closed', () => {
  if (process.platform !== 'darwin') app.quit();
});
