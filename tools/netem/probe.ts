// UDP round-trip probe between namespaces: an echo server in one, a pinger in the other, RTTs in milliseconds.
import { spawn } from 'node:child_process';
import { BouquetError } from '../../core/errors/index.ts';

const echoServer = `const s=require('node:dgram').createSocket('udp4');s.on('message',(m,r)=>s.send(m,r.port,r.address));s.bind(Number(process.argv[1]),()=>console.log('ready'));`;
// Sends \`count\` probes every \`intervalMs\` (all at once when 0), waits up to 1.5 s for the answers, prints RTTs (null = lost).
const pinger = `const [host,port,count,interval]=process.argv.slice(1).map((v,i)=>i?Number(v):v);const s=require('node:dgram').createSocket('udp4');
const sent=new Map(),rtt=new Array(count).fill(null);let got=0;
s.on('message',(m)=>{const i=m.readUInt32BE(0);if(sent.has(i)&&rtt[i]===null){rtt[i]=Number(process.hrtime.bigint()-sent.get(i))/1e6;if(++got===count)done();}});
const done=()=>{console.log(JSON.stringify(rtt));process.exit(0);};setTimeout(done,1500+count*interval);
let i=0;const next=()=>{const b=Buffer.alloc(64);b.writeUInt32BE(i,0);sent.set(i,process.hrtime.bigint());s.send(b,port,host);if(++i<count){interval>0?setTimeout(next,interval):next();}};next();`;

/** RTTs (ms; null for a probe never answered) of `count` UDP probes from `clientNs` to `serverAddress` in `serverNs`. */
export async function probeUdpRtt(clientNs: string, serverNs: string, serverAddress: string, count: number, intervalMs: number): Promise<(number | null)[]> {
  if (!Number.isInteger(count) || count < 1 || count > 10_000) throw new BouquetError('bad-argument', `probe count must be 1–10000 (got ${count})`);
  const port = 40_000 + Math.floor(Math.random() * 20_000);
  const server = spawn('ip', ['netns', 'exec', serverNs, process.execPath, '-e', echoServer, String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise<void>((resolve, reject) => {
      server.stdout.once('data', () => resolve());
      server.once('exit', () => reject(new BouquetError('backend-unavailable', 'the echo server ended before it was ready')));
    });
    const client = spawn('ip', ['netns', 'exec', clientNs, process.execPath, '-e', pinger, serverAddress, String(port), String(count), String(intervalMs)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    client.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    await new Promise<void>((resolve) => client.once('exit', () => resolve()));
    const parsed: unknown = JSON.parse(out);
    if (!Array.isArray(parsed)) throw new BouquetError('bad-response', 'the pinger printed no RTT list');
    return parsed.map((v) => (typeof v === 'number' ? v : null));
  } finally {
    server.kill('SIGKILL');
  }
}
