/** Validates one incoming command and runs it on the service. Used by every remote transport (IPC, WebSocket). */
import type { CommandName, Inspector } from '../../shared/contract';
import { validateCommand } from './validate';

export async function dispatchCommand(service: Inspector, command: unknown, params: unknown): Promise<unknown> {
  validateCommand(command, params);
  const fn = service[command as CommandName] as (p: unknown) => Promise<unknown>;
  return fn.call(service, params ?? {});
}
