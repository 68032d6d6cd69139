import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put, Query, Res } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBody, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiParam, ApiTags, OmitType } from '@nestjs/swagger';
import type { Response } from 'express';
import {
  BuildPatterns,
  BuildView,
  CreateFunctionDto,
  DEPLOY_RPC_TIMEOUT_MS,
  DeployBodyDto,
  DeploymentPatterns,
  DeploymentView,
  DomainError,
  EventPatterns,
  FunctionPage,
  FunctionPatterns,
  FunctionRouteWords,
  FUNCTIONS_PATH,
  FunctionView,
  InvocationStats,
  InvocationStatsQueryDto,
  ListFunctionsQueryDto,
  NotFoundError,
  RESERVED_LABELS_NOTE,
  UpdateFunctionDto,
} from '@platform/contracts';
import { RpcClient } from '@platform/messaging';
import { ApiErrors, ApiManagementErrors } from '../docs/api-errors';

class StatsQueryDto extends OmitType(InvocationStatsQueryDto, ['functionId'] as const) {}

const ID = { name: 'id', description: 'Function id (uuid) or label' };
const NO_FUNCTION = 'No function has this id or label';

/** Said on the routes redocly finds ambiguous (the word routes and the {id}/... routes they could be confused with). */
const UNAMBIGUOUS = RESERVED_LABELS_NOTE;

@ApiTags('functions')
@ApiManagementErrors()
@Controller(FUNCTIONS_PATH)
export class FunctionsController {
  constructor(private readonly rpc: RpcClient) {}

  @Get()
  @ApiOperation({ operationId: 'listFunctions', summary: 'List functions, newest first' })
  @ApiOkResponse({ type: FunctionPage })
  list(@Query() query: ListFunctionsQueryDto): Promise<FunctionPage> {
    return this.rpc.call('function-registry', FunctionPatterns.List, query);
  }

  @Post()
  @HttpCode(201)
  @ApiOperation({ operationId: 'createFunction', summary: 'Create a function from its handler code or files' })
  @ApiCreatedResponse({ type: FunctionView })
  @ApiErrors({ 409: 'The label is taken', 413: true })
  create(@Body() body: CreateFunctionDto): Promise<FunctionView> {
    return this.rpc.call('function-registry', FunctionPatterns.Create, body);
  }

  @Post(`${FunctionRouteWords.build}/:id`)
  @HttpCode(202)
  @ApiOperation({
    operationId: 'buildFunction',
    summary: 'Build the current version (the function becomes BUILDING, then BUILT or FAILED)',
    description: UNAMBIGUOUS,
  })
  @ApiParam(ID)
  @ApiAcceptedResponse({ type: FunctionView, description: 'The function, BUILDING; its build names the build to follow' })
  @ApiErrors({ 404: NO_FUNCTION, 409: 'A build of this version is already running' })
  build(@Param('id') id: string): Promise<FunctionView> {
    return this.rpc.call('function-registry', FunctionPatterns.RequestBuild, { id });
  }

  @Post(`${FunctionRouteWords.deploy}/:id`)
  @ApiOperation({
    operationId: 'deployFunction',
    summary: 'Deploy the current version, or the `version` given (it must have a successful build): 200 when READY, 202 while still DEPLOYING',
    description: `${UNAMBIGUOUS} The version deployed becomes the alias latest and takes all traffic (a split or canary ends). If it fails, the version that served keeps serving.`,
  })
  @ApiParam(ID)
  @ApiBody({ type: DeployBodyDto, required: false })
  @ApiOkResponse({ type: DeploymentView, description: 'READY: the function answers at its url' })
  @ApiAcceptedResponse({ type: DeploymentView, description: "DEPLOYING (Knative): follow the function's status" })
  @ApiErrors({
    404: NO_FUNCTION,
    409: 'The function has no successful build of its current version, or it is being deployed already',
    502: 'The deployment FAILED: the message gives the reason, details the deployment',
  })
  async deploy(@Param('id') id: string, @Body() body: DeployBodyDto = {}, @Res({ passthrough: true }) res: Response): Promise<DeploymentView> {
    const version = body?.version;
    const view = await this.rpc.call<DeploymentView>(
      'deployer',
      DeploymentPatterns.Deploy,
      { functionId: id, ...(version ? { version } : {}) },
      DEPLOY_RPC_TIMEOUT_MS,
    );
    if (view.status === 'FAILED') throw new DomainError(502, `deployment of function ${view.label} failed: ${view.reason ?? 'no reason given'}`, view);
    res.status(view.status === 'READY' ? 200 : 202);
    return view;
  }

  @Delete(`${FunctionRouteWords.deploy}/:id`)
  @ApiOperation({ operationId: 'undeployFunction', summary: 'Undeploy the function (it is BUILT again)', description: UNAMBIGUOUS })
  @ApiParam(ID)
  @ApiOkResponse({ type: DeploymentView, description: 'The deployment, DELETED' })
  @ApiErrors({ 404: 'The function is not deployed', 409: 'The function is being deployed; wait for it to finish' })
  undeploy(@Param('id') id: string): Promise<DeploymentView> {
    return this.rpc.call('deployer', DeploymentPatterns.Undeploy, { functionId: id }, DEPLOY_RPC_TIMEOUT_MS);
  }

  @Get(':id/builds')
  @ApiOperation({ operationId: 'listBuilds', summary: "The function's builds, newest first", description: UNAMBIGUOUS })
  @ApiParam(ID)
  @ApiOkResponse({ type: [BuildView] })
  @ApiErrors({ 404: NO_FUNCTION })
  async builds(@Param('id') id: string): Promise<BuildView[]> {
    const f = await this.resolve(id);
    return this.rpc.call('builder', BuildPatterns.ListForFunction, { functionId: f.id });
  }

  @Get(':id/builds/:buildId')
  @ApiOperation({ operationId: 'getBuild', summary: 'One build, with its log', description: UNAMBIGUOUS })
  @ApiParam(ID)
  @ApiParam({ name: 'buildId', description: 'Build id (the build of a function view, or one of listBuilds)' })
  @ApiOkResponse({ type: BuildView })
  @ApiErrors({ 404: 'No such function, or no such build of it' })
  async buildOf(@Param('id') id: string, @Param('buildId') buildId: string): Promise<BuildView> {
    const f = await this.resolve(id);
    const build = await this.rpc.call<BuildView>('builder', BuildPatterns.Get, { buildId });
    if (build.functionId !== f.id) throw new NotFoundError(`build ${buildId} is not a build of function ${f.label}`);
    return build;
  }

  @Get(':id/stats')
  @ApiOperation({ operationId: 'getFunctionStats', summary: 'Invocation counts, error rate, cold starts and duration percentiles', description: UNAMBIGUOUS })
  @ApiParam(ID)
  @ApiOkResponse({ type: InvocationStats })
  @ApiErrors({ 404: NO_FUNCTION })
  async stats(@Param('id') id: string, @Query() query: StatsQueryDto): Promise<InvocationStats> {
    const f = await this.resolve(id);
    return this.rpc.call('event-store', EventPatterns.Stats, { ...query, functionId: f.id });
  }

  @Get(':id')
  @ApiOperation({ operationId: 'getFunction', summary: 'One function, by id or label' })
  @ApiParam(ID)
  @ApiOkResponse({ type: FunctionView })
  @ApiErrors({ 404: NO_FUNCTION })
  get(@Param('id') id: string): Promise<FunctionView> {
    return this.rpc.call('function-registry', FunctionPatterns.Get, { id });
  }

  @Put(':id')
  @ApiOperation({ operationId: 'updateFunction', summary: 'Change a function; a change of code or config makes a new version to build' })
  @ApiParam(ID)
  @ApiBody({ type: UpdateFunctionDto })
  @ApiOkResponse({ type: FunctionView })
  @ApiErrors({ 404: NO_FUNCTION, 409: 'The new label is taken', 413: true })
  update(@Param('id') id: string, @Body() changes: UpdateFunctionDto): Promise<FunctionView> {
    return this.rpc.call('function-registry', FunctionPatterns.Update, { id, changes });
  }

  @Delete(':id')
  @ApiOperation({ operationId: 'deleteFunction', summary: 'Delete a function (its deployment is removed too)' })
  @ApiParam(ID)
  @ApiOkResponse({ type: FunctionView, description: 'The function as it was' })
  @ApiErrors({ 404: NO_FUNCTION })
  delete(@Param('id') id: string): Promise<FunctionView> {
    return this.rpc.call('function-registry', FunctionPatterns.Delete, { id });
  }

  /** The function without its code (handler and files null): enough to learn its id and label. */
  private resolve(id: string): Promise<FunctionView> {
    return this.rpc.call('function-registry', FunctionPatterns.Resolve, { id });
  }
}
