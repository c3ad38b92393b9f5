/**
 * A client-side Inspector over any message channel (WebSocket in browser mode, tests' loopback). Turns command
 * calls into WireMessages and results back into values or InspectorErrors; fans events out to subscribers.
 */
import type { Inspector } from './contract';
import type { WireMessage } from './wire';
export interface MessageChannelLike {
    send(message: WireMessage): void;
    /** Called by the channel for each incoming message. */
    onMessage(handler: (message: WireMessage) => void): void;
    /** Called by the channel when it closes; pending calls are rejected. */
    onClose(handler: (reason: string) => void): void;
}
export declare function createRemoteInspector(channel: MessageChannelLike): Inspector;
