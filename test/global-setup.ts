import type { TestProject } from 'vitest/node';
// @ts-expect-error: a plain ES module script without types
import { startMoto } from '../scripts/moto.mjs';

declare module 'vitest' {
  export interface ProvidedContext {
    motoEndpoint: string;
  }
}

/** Starts the AWS emulator (moto) once for the whole run; integration tests read its endpoint. */
export default async function setup(project: TestProject) {
  const moto = (await startMoto()) as { endpoint: string; stop: () => Promise<void> };
  project.provide('motoEndpoint', moto.endpoint);
  return async () => {
    await moto.stop();
  };
}
