// Entry of volunteer.html: mounts the Svelte volunteer page with the real agent wiring.
import { BouquetError } from '../../../core/errors/index.ts';
import { mount } from 'svelte';
import '../shared/theme.css';
import VolunteerPage from './VolunteerPage.svelte';
import { startVolunteerInPage } from './start-volunteer.ts';

const target = document.getElementById('app');
if (target === null) throw new BouquetError('internal', 'volunteer.html lacks its #app element');
mount(VolunteerPage, { target, props: { origin: window.location.origin, startVolunteer: startVolunteerInPage } });
