// Entry of dashboard.html: mounts the Svelte dashboard against the coordinator that served the page.
import { BouquetError } from '../../../core/errors/index.ts';
import { mount } from 'svelte';
import '../shared/theme.css';
import DashboardPage from './DashboardPage.svelte';

const target = document.getElementById('app');
if (target === null) throw new BouquetError('internal', 'dashboard.html lacks its #app element');
mount(DashboardPage, { target, props: { origin: window.location.origin } });
