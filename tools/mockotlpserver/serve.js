'use strict';
// Starts @elastic/mockotlpserver for ppexec's tests: OTLP/HTTP and OTLP/gRPC on 127.0.0.1, on the
// ports given as arguments (0 = any free port), with the package's own trace printers: one JSON
// line per received request of spans or metrics ("json") and the spans' waterfall summary ("trace-summary"). The
// server's log says where it listens ("OTLP/HTTP listening at http://127.0.0.1:PORT").
// Usage: node serve.js [HTTP_PORT] [GRPC_PORT]
const {MockOtlpServer} = require('@elastic/mockotlpserver');
const {JSONPrinter} = require('@elastic/mockotlpserver/lib/printers');
const {TraceWaterfallPrinter} = require('@elastic/mockotlpserver/lib/waterfall');
const luggite = require('@elastic/mockotlpserver/lib/luggite');

async function main() {
    const log = luggite.createLogger({name: 'mockotlpserver'});
    const server = new MockOtlpServer({
        log,
        services: ['http', 'grpc'],
        httpHostname: '127.0.0.1',
        httpPort: Number(process.argv[2] ?? 4318),
        grpcHostname: '127.0.0.1',
        grpcPort: Number(process.argv[3] ?? 4317),
    });
    await server.start();
    new JSONPrinter(log, 0, ['trace', 'metrics']).subscribe();
    new TraceWaterfallPrinter(log).subscribe();
    const stop = () => server.close().then(() => process.exit(0));
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
}

main().catch((err) => {
    console.error('mockotlpserver failed to start:', err);
    process.exit(1);
});
