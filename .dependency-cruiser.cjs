// Dependency rules of the monorepo: no cycles, and packages only depend the
// way DESIGN.md draws it (xds-types <- snapshot <- ads-server / config-generator;
// adsc on xds-types only).
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "no-circular",
      severity: "error",
      comment: "Cycles make load order fragile and packages impossible to split.",
      from: {},
      to: { circular: true },
    },
    {
      name: "xds-types-depends-on-nothing-of-ours",
      severity: "error",
      from: { path: "^packages/xds-types/" },
      to: { path: "^packages/(snapshot|ads-server|config-generator|adsc)/" },
    },
    {
      name: "snapshot-only-on-xds-types",
      severity: "error",
      from: { path: "^packages/snapshot/" },
      to: { path: "^packages/(ads-server|config-generator|adsc)/" },
    },
    {
      name: "ads-server-not-on-generator-or-adsc",
      severity: "error",
      comment: "The ads-server only watches the registry; it never calls generators.",
      from: { path: "^packages/ads-server/src/(?!.*\\.test\\.ts$)" },
      to: { path: "^packages/(config-generator|adsc)/" },
    },
    {
      name: "config-generator-not-on-ads-server-or-adsc",
      severity: "error",
      from: { path: "^packages/config-generator/src/(?!.*\\.test\\.ts$)" },
      to: { path: "^packages/(ads-server|adsc)/" },
    },
    {
      name: "adsc-only-on-xds-types",
      severity: "error",
      from: { path: "^packages/adsc/src/(?!.*\\.test\\.ts$)" },
      to: { path: "^packages/(snapshot|ads-server|config-generator)/" },
    },
    {
      name: "admin-only-reads-the-engine",
      comment: "The admin pages read the ADS server, the registry and the controller; nothing depends on them.",
      severity: "error",
      from: { path: "^packages/(xds-types|snapshot|ads-server|config-generator|adsc)/" },
      to: { path: "^packages/admin/" },
    },
  ],
  options: {
    // Edges into another package's dist/ are kept (that is how workspace
    // imports resolve) but not followed, so the rules above see them.
    doNotFollow: { path: ["node_modules", "/dist/"] },
    exclude: { path: "/src/gen/" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.base.json" },
    enhancedResolveOptions: { exportsFields: ["exports"], conditionNames: ["import", "types", "default"] },
    combinedDependencies: true,
  },
};
