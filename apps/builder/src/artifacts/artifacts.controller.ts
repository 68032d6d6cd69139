import { Controller, Get, Param, Res } from '@nestjs/common';
import type { Response } from 'express';
import { NotFoundError } from '@platform/contracts';
import { ArtifactStore } from './artifact-store';

/** Read-only access to stored bundles; the invoker downloads what it runs from here. */
@Controller('artifacts')
export class ArtifactsController {
  constructor(private readonly store: ArtifactStore) {}

  @Get('sha256/:hex')
  async get(@Param('hex') hex: string, @Res() res: Response): Promise<void> {
    const found = await this.store.open(hex);
    if (!found) throw new NotFoundError(`no bundle with digest sha256:${hex} is stored on this builder`);
    res.status(200);
    res.setHeader('content-type', 'application/x-tar');
    res.setHeader('content-length', String(found.size));
    res.setHeader('etag', `"sha256:${hex}"`);
    res.setHeader('docker-content-digest', `sha256:${hex}`);
    // Content-addressed: the bytes behind a digest never change.
    res.setHeader('cache-control', 'public, max-age=31536000, immutable');
    found.stream.on('error', () => res.destroy());
    found.stream.pipe(res);
  }
}
