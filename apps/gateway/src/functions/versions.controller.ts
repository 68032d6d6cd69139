import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put } from '@nestjs/common';
import { ApiBody, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import {
  DEPLOY_RPC_TIMEOUT_MS,
  DeploymentPatterns,
  DeploymentView,
  DomainError,
  FunctionPatterns,
  FUNCTIONS_PATH,
  FunctionVersionView,
  MAX_ALIASES,
  MAX_VERSION,
  parseVersion,
  QUALIFIER_RULE,
  RESERVED_LABELS_NOTE,
  RollbackBodyDto,
  SetAliasDto,
  SetTrafficDto,
  TrafficView,
  ValidationError,
} from '@platform/contracts';
import { RpcClient } from '@platform/messaging';
import { ApiErrors, ApiManagementErrors } from '../docs/api-errors';

const ID = { name: 'id', description: 'Function id (uuid) or label' };
const VERSION = { name: 'version', description: 'Version number', schema: { type: 'integer' as const, minimum: 1, maximum: MAX_VERSION } };
const ALIAS = { name: 'alias', description: 'Alias name: a DNS-1035 label of up to 20 characters (not latest, not v{n})' };
const NO_FUNCTION = 'No function has this id or label';

/** Versions, rollback, aliases and traffic: what the registry keeps of each version, and how the deployer routes them. */
@ApiTags('versions')
@ApiManagementErrors()
@Controller(FUNCTIONS_PATH)
export class VersionsController {
  constructor(private readonly rpc: RpcClient) {}

  @Get(':id/versions')
  @ApiOperation({
    operationId: 'listVersions',
    summary: "The function's versions, newest first (code, config and build digest; no code)",
    description: RESERVED_LABELS_NOTE,
  })
  @ApiParam(ID)
  @ApiOkResponse({ type: [FunctionVersionView] })
  @ApiErrors({ 404: NO_FUNCTION })
  versions(@Param('id') id: string): Promise<FunctionVersionView[]> {
    return this.rpc.call('function-registry', FunctionPatterns.ListVersions, { id });
  }

  @Get(':id/versions/:version')
  @ApiOperation({ operationId: 'getVersion', summary: 'One version, with its code', description: RESERVED_LABELS_NOTE })
  @ApiParam(ID)
  @ApiParam(VERSION)
  @ApiOkResponse({ type: FunctionVersionView })
  @ApiErrors({ 404: 'No such function, or it has no such version' })
  version(@Param('id') id: string, @Param('version') raw: string): Promise<FunctionVersionView> {
    const version = parseVersion(raw, 'the version in the path');
    if (typeof version === 'string') throw new ValidationError(version);
    return this.rpc.call('function-registry', FunctionPatterns.GetVersion, { id, version });
  }

  @Post(':id/rollback')
  @HttpCode(200)
  @ApiOperation({
    operationId: 'rollbackFunction',
    summary: 'Deploy the version that served before the current one (or `to`); any split or canary ends',
    description: RESERVED_LABELS_NOTE,
  })
  @ApiParam(ID)
  @ApiBody({ type: RollbackBodyDto, required: false })
  @ApiOkResponse({ type: DeploymentView, description: 'READY on the version rolled back to' })
  @ApiErrors({
    404: 'No such function, or it is not deployed',
    409: 'No earlier version served, or the one named has no successful build',
    502: 'The deployment of that version FAILED (the current one keeps serving)',
  })
  async rollback(@Param('id') id: string, @Body() body: RollbackBodyDto = {}): Promise<DeploymentView> {
    const view = await this.rpc.call<DeploymentView>(
      'deployer',
      DeploymentPatterns.Rollback,
      { functionId: id, ...(body?.to ? { to: body.to } : {}) },
      DEPLOY_RPC_TIMEOUT_MS,
    );
    if (view.status === 'FAILED') throw new DomainError(502, `rollback of function ${view.label} failed: ${view.reason ?? 'no reason given'}`, view);
    return view;
  }

  @Get(':id/traffic')
  @ApiOperation({ operationId: 'getTraffic', summary: 'Aliases, the traffic split and the canary of the deployed function', description: RESERVED_LABELS_NOTE })
  @ApiParam(ID)
  @ApiOkResponse({ type: TrafficView })
  @ApiErrors({ 404: 'No such function, or it is not deployed' })
  traffic(@Param('id') id: string): Promise<TrafficView> {
    return this.rpc.call('deployer', DeploymentPatterns.GetTraffic, { functionId: id });
  }

  @Put(':id/traffic')
  @ApiOperation({
    operationId: 'setTraffic',
    summary: 'Split invocations across versions by percentage (sticky per caller if asked), or start a canary',
    description: `${RESERVED_LABELS_NOTE} Every trigger follows the split: /fn/, the invoke API, async invocations, queues, schedules and events.`,
  })
  @ApiParam(ID)
  @ApiBody({ type: SetTrafficDto })
  @ApiOkResponse({ type: TrafficView })
  @ApiErrors({
    404: 'No such function, or it is not deployed',
    409: 'A version named has no successful build, or a deployment is in progress',
    502: 'A version could not be started',
  })
  setTraffic(@Param('id') id: string, @Body() traffic: SetTrafficDto): Promise<TrafficView> {
    return this.rpc.call('deployer', DeploymentPatterns.SetTraffic, { functionId: id, traffic }, DEPLOY_RPC_TIMEOUT_MS);
  }

  @Put(':id/aliases/:alias')
  @ApiOperation({
    operationId: 'setAlias',
    summary: 'Point an alias at a version (it starts running if it did not)',
    description:
      `${RESERVED_LABELS_NOTE} A function has at most ${MAX_ALIASES} aliases besides latest (a 409 beyond; moving an existing one is always allowed). ` +
      `Invoke one as /fn/{label}:{alias} or with the X-Function-Qualifier header: ${QUALIFIER_RULE}.`,
  })
  @ApiParam(ID)
  @ApiParam(ALIAS)
  @ApiBody({ type: SetAliasDto })
  @ApiOkResponse({ type: TrafficView })
  @ApiErrors({
    404: 'No such function, or it is not deployed',
    409: `The version has no successful build, or the function has ${MAX_ALIASES} aliases already`,
    502: 'The version could not be started',
  })
  setAlias(@Param('id') id: string, @Param('alias') alias: string, @Body() body: SetAliasDto): Promise<TrafficView> {
    return this.rpc.call('deployer', DeploymentPatterns.SetAlias, { functionId: id, alias, version: body.version }, DEPLOY_RPC_TIMEOUT_MS);
  }

  @Delete(':id/aliases/:alias')
  @ApiOperation({ operationId: 'deleteAlias', summary: 'Remove an alias', description: RESERVED_LABELS_NOTE })
  @ApiParam(ID)
  @ApiParam(ALIAS)
  @ApiOkResponse({ type: TrafficView })
  @ApiErrors({ 404: 'No such function, alias, or deployment' })
  deleteAlias(@Param('id') id: string, @Param('alias') alias: string): Promise<TrafficView> {
    return this.rpc.call('deployer', DeploymentPatterns.DeleteAlias, { functionId: id, alias }, DEPLOY_RPC_TIMEOUT_MS);
  }
}
