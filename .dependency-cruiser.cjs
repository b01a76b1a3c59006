// The layer rule of docs/architecture.md, checked on every `npm test`: arrows point inward only.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'domain-is-pure',
      comment: 'src/domain imports nothing outside src/domain: no node:*, no npm packages, no other layer.',
      severity: 'error',
      from: { path: '^src/domain/' },
      to: { pathNot: '^src/domain/' },
    },
    {
      name: 'ports-speak-domain',
      comment: 'src/ports import only the domain (and other ports).',
      severity: 'error',
      from: { path: '^src/ports/' },
      to: { pathNot: '^src/(domain|ports)/' },
    },
    {
      name: 'application-uses-ports',
      comment: 'use cases depend on the domain and ports, never on adapters, technologies or the composition root.',
      severity: 'error',
      from: { path: '^src/application/' },
      to: { pathNot: '^src/(domain|ports|application)/' },
    },
    {
      name: 'adapters-stay-apart',
      comment: 'an adapter never imports another adapter folder (kube-objects holds the Kubernetes shapes both cluster adapters speak; grpc-wire the protobuf wire format and gRPC statuses both gRPC adapters speak), the application or the composition root.',
      severity: 'error',
      from: { path: '^src/adapters/([^/]+)/' },
      to: { path: '^src/(adapters|application|app)/', pathNot: ['^src/adapters/$1/', '^src/adapters/kube-objects/', '^src/adapters/grpc-wire/'] },
    },
    {
      name: 'generated-code-is-leaf',
      comment: 'generated protocol code imports nothing from the project.',
      severity: 'error',
      from: { path: '^src/gen/' },
      to: { path: '^src/(domain|ports|application|adapters|app)/' },
    },
    {
      name: 'inversify-only-in-composition-root',
      comment: 'only src/app and adapter *.module.ts files wire the container.',
      severity: 'error',
      from: { path: '^src/', pathNot: ['^src/app/', '^src/adapters/[^/]+/[^/]+[.]module[.]ts$'] },
      to: { path: 'node_modules/(inversify|@inversifyjs)/' },
    },
    {
      name: 'no-circular',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'] },
  },
};
