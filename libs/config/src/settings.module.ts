import { DynamicModule, Global, Module } from '@nestjs/common';
import { InternalCredential } from './internal-token';
import { CommonSettings, loadSettings, SettingsSchema } from './settings';
import { SETTINGS } from './tokens';

export { SETTINGS } from './tokens';

/** Provides the validated settings (common + the service's own) under the SETTINGS token, and the internal credential. */
@Global()
@Module({})
export class SettingsModule {
  static forRoot(schema: SettingsSchema = {}, env: NodeJS.ProcessEnv = process.env): DynamicModule {
    const settings = loadSettings({ ...CommonSettings, ...schema }, env);
    return {
      module: SettingsModule,
      providers: [{ provide: SETTINGS, useValue: settings }, InternalCredential],
      exports: [SETTINGS, InternalCredential],
    };
  }
}
