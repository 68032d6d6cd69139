import { Module } from '@nestjs/common';
import { RpcClientsModule } from '@platform/messaging';
import { ArtifactsModule } from '../artifacts/artifacts.module';
import { ImageBuilder } from '../oci/image-builder';
import { BuildMetrics } from './build-metrics';
import { BuildQueue } from './build-queue';
import { BuildRunner } from './build-runner';
import { BuildWorker } from './build.worker';
import { BuildsController } from './builds.controller';
import { BuildsService } from './builds.service';

@Module({
  // The registry answers for the code of the version a job names.
  imports: [ArtifactsModule, RpcClientsModule.register(['function-registry'])],
  controllers: [BuildsController],
  providers: [BuildQueue, BuildMetrics, BuildsService, BuildRunner, BuildWorker, ImageBuilder],
  exports: [BuildsService],
})
export class BuildsModule {}
