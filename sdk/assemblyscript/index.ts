// Package entry: `import * as sluice from "@sluice-mail/sluice-assemblyscript"`
// resolves here (asc looks for index.ts in the package folder).
export * from "./assembly/sluice";
