// Entry of chat.html: mounts the Svelte chat page with the real client wiring.
import { BouquetError } from '../../../core/errors/index.ts';
import { mount } from 'svelte';
import '../shared/theme.css';
import ChatPage from './ChatPage.svelte';
import { startChatInPage } from './start-chat.ts';

const target = document.getElementById('app');
if (target === null) throw new BouquetError('internal', 'chat.html lacks its #app element');
mount(ChatPage, { target, props: { origin: window.location.origin, startChat: startChatInPage } });
