import { Module } from '@nestjs/common';
import { ArtifactStore } from './artifact-store';
import { ArtifactsController } from './artifacts.controller';

@Module({
  controllers: [ArtifactsController],
  providers: [ArtifactStore],
  exports: [ArtifactStore],
})
export class ArtifactsModule {}
