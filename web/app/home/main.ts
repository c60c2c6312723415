// Entry of index.html: the landing page.
import { mount } from 'svelte';
import '../shared/theme.css';
import HomePage from './HomePage.svelte';

const target = document.getElementById('app');
if (target === null) throw new Error('index.html lacks its #app element');
mount(HomePage, { target, props: { origin: window.location.origin } });
