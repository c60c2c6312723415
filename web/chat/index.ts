// The chat wiring shared by the Svelte chat page and the headless chat page (browser only: a Worker and PeerJS).
export { startChatClient, type ChatClient, type ChatClientOptions, type ChatGeneration } from './start-chat-client.ts';
