import { DynamicModule, Global, Module } from '@nestjs/common';
import { CommonSettings, loadSettings, SettingsSchema } from './settings';

export const SETTINGS = Symbol('SETTINGS');

/** Provides the validated settings (common + the service's own) under the SETTINGS token. */
@Global()
@Module({})
export class SettingsModule {
  static forRoot(schema: SettingsSchema = {}, env: NodeJS.ProcessEnv = process.env): DynamicModule {
    const settings = loadSettings({ ...CommonSettings, ...schema }, env);
    return {
      module: SettingsModule,
      providers: [{ provide: SETTINGS, useValue: settings }],
      exports: [SETTINGS],
    };
  }
}
