// Entry of index.html: the landing page.
import { BouquetError } from '../../../core/errors/index.ts';
import { mount } from 'svelte';
import '../shared/theme.css';
import HomePage from './HomePage.svelte';

const target = document.getElementById('app');
if (target === null) throw new BouquetError('internal', 'index.html lacks its #app element');
mount(HomePage, { target, props: { origin: window.location.origin } });
