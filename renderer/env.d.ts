/// <reference types="vite/client" />
import type { Inspector } from '../shared/contract';

declare module '*.vue' {
  import type { DefineComponent } from 'vue';
  const component: DefineComponent<object, object, unknown>;
  export default component;
}

declare global {
  interface Window {
    /** Present in the Electron window only (preload.ts). */
    inspector?: Inspector;
  }
}

declare module 'vue' {
  interface GlobalDirectives {
    /** util/job-button.ts: a job's start button, disabled for a classroom student where the instructor does not allow it. */
    vJobButton: typeof import('./util/job-button').jobButton;
  }
}
