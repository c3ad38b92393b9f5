/** The application menu: open a model or a dataset with the native dialog; view and help items. */
import { app, dialog, Menu, shell, type BrowserWindow } from 'electron';
import type { Inspector } from '../../shared/contract';
import { toErrorInfo } from '../../shared/errors';

/** `devTools`: whether the View menu offers the developer tools (development builds only). */
export function buildMenu(window: BrowserWindow, service: Inspector, options: { devTools: boolean } = { devTools: false }): Menu {
  const report = (error: unknown) => {
    const info = toErrorInfo(error);
    void dialog.showMessageBox(window, { type: 'error', message: info.message, detail: `Error code: ${info.code}` });
  };
  const template: Electron.MenuItemConstructorOptions[] = [
    {
      label: 'File',
      submenu: [
        {
          label: 'Open Model…',
          accelerator: 'CmdOrCtrl+O',
          click: async () => {
            const picked = await dialog.showOpenDialog(window, {
              title: 'Open a model',
              properties: ['openFile'],
              filters: [
                { name: 'Models (ONNX, Keras, TF.js)', extensions: ['onnx', 'h5', 'hdf5', 'keras', 'json'] },
                { name: 'ONNX', extensions: ['onnx'] },
                { name: 'Keras', extensions: ['h5', 'hdf5', 'keras'] },
                { name: 'TF.js Layers model.json', extensions: ['json'] },
              ],
            });
            if (!picked.canceled && picked.filePaths[0]) await service.openModel({ path: picked.filePaths[0] }).catch(report);
          },
        },
        {
          label: 'Open Image Folder…',
          accelerator: 'CmdOrCtrl+Shift+O',
          click: async () => {
            const picked = await dialog.showOpenDialog(window, { title: 'Open a folder with one sub-folder per class', properties: ['openDirectory'] });
            if (!picked.canceled && picked.filePaths[0]) await service.openDataset({ path: picked.filePaths[0] }).catch(report);
          },
        },
        { label: 'Open Default Model', click: () => void service.openModel({}).catch(report) },
        { label: 'Open Sample Images', click: () => void service.openDataset({}).catch(report) },
        { type: 'separator' },
        { role: 'quit' },
      ],
    },
    {
      label: 'View',
      submenu: [
        { role: 'reload' },
        ...(options.devTools ? [{ role: 'toggleDevTools' } as const] : []),
        { type: 'separator' },
        { role: 'resetZoom' },
        { role: 'zoomIn' },
        { role: 'zoomOut' },
        { role: 'togglefullscreen' },
      ],
    },
    {
      label: 'Help',
      submenu: [
        { label: `CNN Inspector ${app.getVersion()}`, enabled: false },
        { label: 'Zeiler & Fergus 2013 (paper)', click: () => void shell.openExternal('https://arxiv.org/abs/1311.2901') },
      ],
    },
  ];
  return Menu.buildFromTemplate(template);
}
