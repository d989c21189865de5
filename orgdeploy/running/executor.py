"""Run a Plan through the gateways: independent steps concurrently, dependent ones in order.

The executor makes no decisions the planner should have made. Every StackSet
operation carries the planner's deterministic OperationId, so a call retried
after a crash adopts the operation that already exists instead of repeating it.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Protocol

from orgdeploy.aws.buckets import BucketsGateway
from orgdeploy.aws.guard import GuardGateway
from orgdeploy.aws.recorders import RecordersGateway
from orgdeploy.aws.retry import error_code, poll
from orgdeploy.aws.session import AwsContext
from orgdeploy.aws.stacks import StackFailed, StacksGateway
from orgdeploy.aws.stacksets import FINISHED, StackSetsGateway
from orgdeploy.config.model import Config
from orgdeploy.planning.inventory import OperationResult
from orgdeploy.planning.plan import USE_PREVIOUS_VALUE, ExecutionResult, Outcome, Plan, Step, StepResult
from orgdeploy.running.adopting import Adopter
from orgdeploy.templates.render import RenderedSet


class Reporter(Protocol):
    def step_started(self, step: Step) -> None: ...
    def step_progress(self, step: Step, done: int, total: int) -> None: ...
    def step_waiting(self, step: Step, status: str, seconds: float) -> None: ...
    def step_finished(self, result: StepResult) -> None: ...


RESULTS_PAGE = 100  # ListStackSetOperationResults' most results per page (botocore: MaxResults max 100)


@dataclass(frozen=True)
class ExecutorSettings:
    operation_timeout: float = 3600.0
    poll_first: float = 0.5
    poll_max: float = 10.0
    workers: int = 8
    # Seconds between the result listings that show an operation's progress, per page of results.
    progress_every: float = 15.0


class StepError(Exception):
    """A step failed in a way that is reported, not raised to the user."""


class Executor:
    def __init__(
        self,
        ctx: AwsContext,
        config: Config,
        rendered: RenderedSet,
        reporter: Reporter,
        settings: ExecutorSettings | None = None,
    ) -> None:
        self.ctx = ctx
        self.config = config
        self.rendered = rendered
        self.reporter = reporter
        self.settings = settings or ExecutorSettings()
        self.stacksets = StackSetsGateway(ctx, region=config.home_region, call_as=config.admin.call_as)
        self.verify_stack_sets: list[str] = []

    def run(self, plan: Plan) -> ExecutionResult:
        self.verify_stack_sets = list(plan.desired_stack_sets)
        result = ExecutionResult()
        outcome: dict[str, Outcome] = {}
        pending = list(plan.steps)
        running: dict[Future[StepResult], Step] = {}
        with ThreadPoolExecutor(max_workers=self.settings.workers, thread_name_prefix="step") as pool:
            while pending or running:
                for step in list(pending):
                    deps = [outcome.get(d) for d in step.depends_on]
                    if any(d in {"failed", "blocked"} for d in deps):
                        pending.remove(step)
                        blocked = StepResult(step, "blocked", "not run: a step it depends on failed")
                        outcome[step.id] = "blocked"
                        result.results.append(blocked)
                        self.reporter.step_finished(blocked)
                    elif all(d == "succeeded" for d in deps):
                        pending.remove(step)
                        self.reporter.step_started(step)
                        running[pool.submit(self._run_step, step)] = step
                if not running:
                    # Only steps whose dependencies will never finish remain (a plan error).
                    for step in pending:
                        stuck = StepResult(step, "blocked", "not run: its dependencies are not in the plan")
                        result.results.append(stuck)
                        self.reporter.step_finished(stuck)
                    break
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    step = running.pop(future)
                    step_result = future.result()
                    outcome[step.id] = step_result.outcome
                    result.results.append(step_result)
                    self.reporter.step_finished(step_result)
        return result

    def _run_step(self, step: Step) -> StepResult:
        started = time.monotonic()
        try:
            handler = getattr(self, f"_do_{step.action}")
            step_result: StepResult = handler(step)
        except (StepError, StackFailed, TimeoutError) as exc:
            step_result = StepResult(step, "failed", str(exc))
        except Exception as exc:
            from orgdeploy.aws.retry import error_code

            code = error_code(exc)
            step_result = StepResult(step, "failed", f"{code + ': ' if code else ''}{exc}")
        return StepResult(
            step_result.step,
            step_result.outcome,
            step_result.message,
            step_result.failures,
            step_result.operation_id,
            time.monotonic() - started,
        )

    # Handlers ---------------------------------------------------------------
    def _do_enable_trusted_access(self, step: Step) -> StepResult:
        self.stacksets.activate_organizations_access()
        poll(
            lambda: True if self.stacksets.organizations_access() == "ENABLED" else None,
            timeout=300,
            first=self.settings.poll_first,
        )
        return StepResult(step, "succeeded", "trusted access is ENABLED")

    def _body(self, step: Step) -> str:
        assert step.template is not None
        return self.rendered.get(step.template).body

    def _do_deploy_stack(self, step: Step) -> StepResult:
        assert step.account is not None
        gateway = StacksGateway(self.ctx, account=step.account, region=step.regions[0])
        parameters, note = self._with_failed_recorders_excluded(step)
        state = gateway.deploy(
            step.target,
            self._body(step),
            parameters,
            list(step.capabilities),
            timeout=self.settings.operation_timeout,
        )
        return StepResult(step, "succeeded", state.status + note)

    def _with_failed_recorders_excluded(self, step: Step) -> tuple[dict[str, str], str]:
        """The step's parameters, with ExcludedAccounts read again now that the recorder operations ran."""
        parameters = dict(step.parameters)
        if not step.exclude_failed_recorders_of:
            return parameters, ""
        failed = sorted(
            {
                i.account
                for name in step.exclude_failed_recorders_of
                for i in self.stacksets.instances(name, region=step.regions[0])
                if not i.healthy
            }
        )
        excluded = [a for a in parameters.get("ExcludedAccounts", "").split(",") if a]
        added = [a for a in failed if a not in excluded]
        if not added:
            return parameters, ""
        parameters["ExcludedAccounts"] = ",".join(sorted({*excluded, *added}))
        return parameters, f"; also excluded {len(added)} account(s) whose recorder failed: {', '.join(added)}"

    def _do_delete_stack(self, step: Step) -> StepResult:
        assert step.account is not None
        StacksGateway(self.ctx, account=step.account, region=step.regions[0]).delete(
            step.target, timeout=self.settings.operation_timeout
        )
        return StepResult(step, "succeeded", "deleted")

    def _auto_deployment(self, step: Step) -> dict[str, Any]:
        auto = dict(step.auto_deployment or {"Enabled": True})
        if not auto.get("Enabled"):
            return {"Enabled": False}
        auto["DependsOn"] = [self.stacksets.arn(name) for name in auto.get("DependsOn", [])]
        if not auto["DependsOn"]:
            del auto["DependsOn"]
        return auto

    def _template_args(self, step: Step) -> dict[str, Any]:
        return {
            "StackSetName": step.target,
            "TemplateBody": self._body(step),
            "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in step.parameters],
            "Capabilities": list(step.capabilities),
            "AutoDeployment": self._auto_deployment(step),
            "ManagedExecution": {"Active": self.config.stacksets.managed_execution},
        }

    def _do_create_stack_set(self, step: Step) -> StepResult:
        self.stacksets.create_stack_set(
            Description=f"[{self.config.stacksets.name_prefix}] {step.template}", **self._template_args(step)
        )
        return StepResult(step, "succeeded", "created")

    def _do_update_stack_set(self, step: Step) -> StepResult:
        args = self._template_args(step)
        return self.operation(step, "update_stack_set", OperationPreferences=step.operation_preferences, **args)

    def _instance_args(self, step: Step) -> dict[str, Any]:
        args: dict[str, Any] = {
            "StackSetName": step.target,
            "DeploymentTargets": step.deployment_targets,
            "Regions": list(step.regions),
            "OperationPreferences": step.operation_preferences,
        }
        if step.parameters:
            # A listed parameter is set, a kept one keeps its override; one left out goes back to the stack set's.
            args["ParameterOverrides"] = [
                {"ParameterKey": key, "UsePreviousValue": True}
                if value == USE_PREVIOUS_VALUE
                else {"ParameterKey": key, "ParameterValue": value}
                for key, value in step.parameters
            ]
        return args

    def _do_create_stack_instances(self, step: Step) -> StepResult:
        return self.operation(step, "create_stack_instances", **self._instance_args(step))

    def _do_update_stack_instances(self, step: Step) -> StepResult:
        return self.operation(step, "update_stack_instances", **self._instance_args(step))

    def _do_delete_stack_instances(self, step: Step) -> StepResult:
        return self.operation(
            step, "delete_stack_instances", RetainStacks=step.retain_stacks, **self._instance_args(step)
        )

    def _do_delete_stack_set(self, step: Step) -> StepResult:
        self.stacksets.delete_stack_set(step.target)
        return StepResult(step, "succeeded", "deleted")

    def _do_upload_artifact(self, step: Step) -> StepResult:
        assert step.template is not None and step.account is not None
        pack = step.template.split(":", 1)[1]
        body = next(b for b in self.rendered.pack_bodies if b.pack == pack).body.encode("utf-8")
        bucket, key = step.target.removeprefix("s3://").split("/", 1)
        BucketsGateway(self.ctx, account=step.account, region=step.regions[0]).upload(bucket, key, body)
        return StepResult(step, "succeeded", f"uploaded {len(body):,} bytes")

    def _do_delete_bucket(self, step: Step) -> StepResult:
        assert step.account is not None
        removed = BucketsGateway(self.ctx, account=step.account, region=step.regions[0]).empty_and_delete(step.target)
        return StepResult(step, "succeeded", f"deleted ({removed} object version(s) removed)")

    def _do_repair_recorder(self, step: Step) -> StepResult:
        assert step.account is not None
        values = dict(step.parameters)
        gateway = RecordersGateway(self.ctx, account=step.account, region=step.regions[0])
        mended = gateway.mend(
            step.target, group=json.loads(values["RecordingGroup"]), mode=json.loads(values["RecordingMode"])
        )
        return StepResult(step, "succeeded", mended.describe())

    def _do_adopt_recorders(self, step: Step) -> StepResult:
        return Adopter(self).adopt(step)

    def _do_release_recorders(self, step: Step) -> StepResult:
        return Adopter(self).release(step)

    def _do_put_guard_policy(self, step: Step) -> StepResult:
        return StepResult(step, "succeeded", GuardGateway(self.ctx).put(step.target, dict(step.parameters)["Content"]))

    def _do_attach_guard_policy(self, step: Step) -> StepResult:
        return StepResult(
            step, "succeeded", GuardGateway(self.ctx).attach(step.target, dict(step.parameters)["TargetId"])
        )

    def _do_detach_guard_policy(self, step: Step) -> StepResult:
        return StepResult(
            step, "succeeded", GuardGateway(self.ctx).detach(step.target, dict(step.parameters)["TargetId"])
        )

    def _do_delete_guard_policy(self, step: Step) -> StepResult:
        return StepResult(step, "succeeded", GuardGateway(self.ctx).delete(step.target))

    def _do_verify(self, step: Step) -> StepResult:
        """Read every instance back; any not CURRENT and SUCCEEDED fails the run."""
        unhealthy: list[OperationResult] = []
        names = []
        for name in self.verify_stack_sets:
            try:
                state = self.stacksets.read_one(name)
            except Exception as exc:
                if error_code(exc) == "StackSetNotFoundException":
                    continue  # nothing was planned for it, or destroy removed it
                raise
            names.append(name)
            unhealthy += [
                OperationResult(i.account, i.region, i.detailed_status or i.status, i.reason)
                for i in state.instances
                if not i.healthy
            ]
        message = f"{len(names)} stack set(s) read back"
        return StepResult(step, "failed" if unhealthy else "succeeded", message, tuple(unhealthy))

    def operation(self, step: Step, call: str, **args: Any) -> StepResult:
        """Start one StackSet operation and wait for its end (adopting.py runs its own through this)."""
        assert step.operation_id is not None
        operation_id = self.stacksets.start(call, OperationId=step.operation_id, **args)

        # DescribeStackSetOperation is strongly consistent and one call: it decides when the operation ends.
        # The results are a page per 100 instances, listed once at the end. For progress, the operation
        # earns a page per progress_every and a listing is read only once its pages are earned, so those
        # calls grow with time, not with instances x polls (a 16,000-instance listing waits 40 minutes).
        started, spent = time.monotonic(), 0
        pages = max(1, -(-step.expected_instances // RESULTS_PAGE))

        def finished() -> dict[str, Any] | None:
            nonlocal spent, pages
            status = self.stacksets.operation_status(step.target, operation_id)
            if status["Status"] in FINISHED:
                return status
            elapsed = time.monotonic() - started
            self.reporter.step_waiting(step, status["Status"], elapsed)
            if elapsed / self.settings.progress_every - spent >= pages:
                results = self.stacksets.results(step.target, operation_id)
                pages = max(1, -(-len(results) // RESULTS_PAGE))
                spent += pages
                done = sum(1 for r in results if r.status in {"SUCCEEDED", "FAILED", "CANCELLED"})
                self.reporter.step_progress(step, done, max(len(results), done))
            return None

        status = poll(
            finished,
            timeout=self.settings.operation_timeout,
            first=self.settings.poll_first,
            maximum=self.settings.poll_max,
        )
        results = self.stacksets.results(step.target, operation_id)
        self.reporter.step_progress(step, len(results), len(results))
        failures = tuple(r for r in results if r.status != "SUCCEEDED")
        outcome: Outcome = "succeeded" if status["Status"] == "SUCCEEDED" else "failed"
        message = f"operation {operation_id} {status['Status']}"
        if status.get("StatusReason"):
            message += f": {status['StatusReason']}"
        return StepResult(step, outcome, message, failures, operation_id)

    def wait_for_in_flight(self, names: list[str]) -> list[str]:
        """Wait for operations already running on these stack sets (a previous run, or someone else's)."""
        waited = []
        for name in names:
            for operation_id in self.stacksets.in_flight(name):
                poll(
                    lambda n=name, o=operation_id: (
                        True  # type: ignore[misc]
                        if self.stacksets.operation_status(n, o)["Status"] in FINISHED
                        else None
                    ),
                    timeout=self.settings.operation_timeout,
                    first=self.settings.poll_first,
                    maximum=self.settings.poll_max,
                )
                waited.append(f"{name}/{operation_id}")
        return waited
