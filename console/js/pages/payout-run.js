// One payout run: its figures and where it is (running -> ready -> approved -> settled),
// approval by a second person, the transfer file's download with its recorded SHA-256,
// settlement (paid / failed, failed ones credited back) and the citizens it skipped.
import { download, get, post } from "../api.js";
import { can, person } from "../auth.js";
import { clear, facts, field, form, h, link, notice, toast } from "../dom.js";
import { num, t, when, won, words } from "../i18n.js";
import { confirmMoney, explain, figure, pagedTable, statusBadge } from "../money.js";
import { who } from "./payouts.js";

const STEPS = ["running", "ready", "approved", "settled"];
const SETTLE_LIMIT = 1000;

words({
  ko: {
    "money.run.title": "{period} 지급 실행",
    "money.run.back": "← 지급 실행 목록",
    "money.run.steps": "진행 단계",
    "money.run.id": "실행 ID",
    "money.run.status": "상태",
    "money.run.citizens": "지급 시민",
    "money.run.total": "지급 합계",
    "money.run.skippedNoAccount": "제외: 계좌 없음",
    "money.run.skippedBelow": "제외: 기준 미만",
    "money.run.chunks": "계산 진행",
    "money.run.startedBy": "시작한 사람",
    "money.run.readyAt": "계산 완료",
    "money.run.approvedBy": "승인한 사람",
    "money.run.settledAt": "정산 완료",
    "money.run.paid": "지급됨",
    "money.run.failed": "실패(환급)",
    "money.run.pending": "정산 대기",
    "money.run.runningNote": "계산 중입니다. 이 화면은 몇 초마다 새로 읽습니다.",
    "money.run.review": "검토와 승인",
    "money.run.approve": "승인",
    "money.run.approveTitle": "{period} 지급 실행을 승인할까요?",
    "money.run.approveText": "{citizens}명에게 {total}을 지급합니다. 승인하면 이체 파일을 내려받을 수 있습니다.",
    "money.run.approved": "승인했습니다.",
    "money.run.selfApprove": "이 실행은 내가 시작했으므로 승인할 수 없습니다. 다른 재무 담당자가 승인해야 합니다(작성자 ≠ 승인자).",
    "money.run.notReady": "검토 대기 상태가 되면 승인할 수 있습니다.",
    "money.run.approvedNote": "{by}님이 {at}에 승인했습니다.",
    "money.run.export": "이체 파일",
    "money.run.exportText": "은행에 보낼 이체 파일(CSV, UTF-8)입니다. 내려받을 때마다 파일의 SHA-256이 실행과 작업 기록에 남습니다.",
    "money.run.download": "CSV 내려받기",
    "money.run.downloaded": "내려받음: {name} ({bytes}바이트)",
    "money.run.sha": "기록된 SHA-256 ({format})",
    "money.run.noExport": "아직 내려받은 파일이 없습니다.",
    "money.run.exportLater": "승인된 뒤에 내려받을 수 있습니다.",
    "money.run.settle": "정산",
    "money.run.settleText": "은행 결과에 따라 시민 ID를 적으세요(한 줄에 하나 또는 쉼표로 구분, 한 번에 {limit}명까지). 실패한 지급은 시민의 잔액으로 돌려줍니다.",
    "money.run.settlePaid": "지급된 시민 ID",
    "money.run.settleFailed": "실패한 시민 ID",
    "money.run.fromFile": "이체 파일(CSV)의 시민을 '지급됨'에 채우기",
    "money.run.fromFileHint": "내려받은 이체 파일을 고르면 citizen_id 열을 읽어 채웁니다. 실패한 시민은 '실패'로 옮기세요.",
    "money.run.filled": "파일에서 {n}명을 채웠습니다.",
    "money.run.settleButton": "정산 보내기",
    "money.run.settleTitle": "정산할까요?",
    "money.run.settleConfirm": "지급됨 {paid}명, 실패 {failed}명. 실패한 지급은 시민의 잔액으로 돌려줍니다. 되돌릴 수 없습니다.",
    "money.run.settleNone": "시민 ID를 한 명 이상 적으세요.",
    "money.run.settleTooMany": "한 번에 {limit}명까지 정산할 수 있습니다.",
    "money.run.settleBoth": "같은 시민이 지급됨과 실패 양쪽에 있습니다: {ids}",
    "money.run.settled": "정산 반영: 지급됨 {paid}명, 실패 {failed}명, 이미 같은 상태 {unchanged}명.",
    "money.run.settleLater": "승인된 뒤에 정산할 수 있습니다.",
    "money.run.settleDone": "모든 항목이 정산되었습니다.",
    "money.run.named": "해당 시민: {ids}",
    "money.run.skipped": "지급에서 제외된 시민",
    "money.run.skippedText": "상담 담당자가 연락할 수 있도록, 지급되지 않은 시민과 그 이유입니다.",
    "money.run.reason": "이유",
    "money.run.reason.all": "모두",
    "money.run.reason.no_account": "지급 계좌 없음",
    "money.run.reason.below_threshold": "기준(2,000포인트) 미만",
    "money.run.col.citizen": "시민 ID",
    "money.run.col.reason": "이유",
    "money.run.skippedNone": "제외된 시민이 없습니다.",
  },
  en: {
    "money.run.title": "Payout run {period}",
    "money.run.back": "← All payout runs",
    "money.run.steps": "Progress",
    "money.run.id": "Run id",
    "money.run.status": "Status",
    "money.run.citizens": "Citizens paid",
    "money.run.total": "Total",
    "money.run.skippedNoAccount": "Skipped: no account",
    "money.run.skippedBelow": "Skipped: below threshold",
    "money.run.chunks": "Computed",
    "money.run.startedBy": "Started by",
    "money.run.readyAt": "Computed at",
    "money.run.approvedBy": "Approved by",
    "money.run.settledAt": "Settled at",
    "money.run.paid": "Paid",
    "money.run.failed": "Failed (credited back)",
    "money.run.pending": "Awaiting settlement",
    "money.run.runningNote": "The run is being computed; this page reads it again every few seconds.",
    "money.run.review": "Review and approval",
    "money.run.approve": "Approve",
    "money.run.approveTitle": "Approve the payout run for {period}?",
    "money.run.approveText": "It pays {total} to {citizens} citizens. Once approved, its transfer file can be downloaded.",
    "money.run.approved": "Approved.",
    "money.run.selfApprove": "You started this run, so you cannot approve it: another finance person must (maker ≠ checker).",
    "money.run.notReady": "It can be approved once it awaits review.",
    "money.run.approvedNote": "Approved by {by} at {at}.",
    "money.run.export": "Transfer file",
    "money.run.exportText": "The file for the bank (CSV, UTF-8). Each download records the file's SHA-256 on the run and in the action log.",
    "money.run.download": "Download CSV",
    "money.run.downloaded": "Downloaded: {name} ({bytes} bytes)",
    "money.run.sha": "Recorded SHA-256 ({format})",
    "money.run.noExport": "No file has been downloaded yet.",
    "money.run.exportLater": "It can be downloaded once approved.",
    "money.run.settle": "Settlement",
    "money.run.settleText": "Enter the citizen ids as the bank reported them (one a line or comma-separated, up to {limit} at once). Failed payouts are credited back to the citizen.",
    "money.run.settlePaid": "Citizen ids paid",
    "money.run.settleFailed": "Citizen ids failed",
    "money.run.fromFile": "Fill 'paid' with the transfer file's (CSV) citizens",
    "money.run.fromFileHint": "Choose the downloaded transfer file: its citizen_id column fills the list. Move the failed ones to 'failed'.",
    "money.run.filled": "Filled {n} citizens from the file.",
    "money.run.settleButton": "Send the settlement",
    "money.run.settleTitle": "Settle these payouts?",
    "money.run.settleConfirm": "{paid} paid, {failed} failed. Failed payouts are credited back to the citizens. This cannot be undone.",
    "money.run.settleNone": "Enter at least one citizen id.",
    "money.run.settleTooMany": "At most {limit} citizens can be settled at once.",
    "money.run.settleBoth": "Named both paid and failed: {ids}",
    "money.run.settled": "Settled: {paid} paid, {failed} failed, {unchanged} already so.",
    "money.run.settleLater": "It can be settled once approved.",
    "money.run.settleDone": "Every item is settled.",
    "money.run.named": "Citizens: {ids}",
    "money.run.skipped": "Citizens skipped",
    "money.run.skippedText": "The citizens this run did not pay, and why, so support can reach them.",
    "money.run.reason": "Reason",
    "money.run.reason.all": "All",
    "money.run.reason.no_account": "No payout account",
    "money.run.reason.below_threshold": "Below the threshold (2,000 points)",
    "money.run.col.citizen": "Citizen id",
    "money.run.col.reason": "Reason",
    "money.run.skippedNone": "No citizen was skipped.",
  },
});

/** Citizen ids from a textarea: one a line or separated by commas/spaces, each once. */
export function ids(text) {
  return [...new Set(String(text || "").split(/[\s,;]+/).map((s) => s.trim()).filter(Boolean))];
}

/** The citizen_id column of a transfer CSV (UTF-8 with a BOM, a header row). */
export function csvCitizens(text) {
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/).filter((line) => line.trim());
  if (!lines.length) return [];
  const header = lines[0].split(",").map((c) => c.replace(/"/g, "").trim());
  const column = Math.max(0, header.indexOf("citizen_id"));
  return lines.slice(1).map((line) => line.split(",")[column].replace(/"/g, "").trim()).filter(Boolean);
}

function refusal(error) {
  const named = (error.details || []).map((d) => d.citizen_id).filter(Boolean);
  return named.length ? `${explain(error)} ${t("money.run.named", { ids: named.join(", ") })}` : explain(error);
}

export default async function render(view, ctx) {
  const id = ctx.params.id;
  const path = `/v1/admin/payout-runs/${encodeURIComponent(id)}`;
  const run = await get(path, undefined, { signal: ctx.signal });
  const me = person();

  view.append(
    h("p", {}, link("#/payouts", t("money.run.back"))),
    h("h1", {}, t("money.run.title", { period: run.period })),
    h("ol", { class: "steps", "aria-label": t("money.run.steps") },
      STEPS.map((step, i) => h("li", {
        class: [i < STEPS.indexOf(run.status) && "done", step === run.status && "current"],
        "aria-current": step === run.status ? "step" : null,
      }, t(`money.status.${step}`)))),
    h("div", { class: "cards" },
      figure(t("money.run.status"), statusBadge(run.status)),
      figure(t("money.run.citizens"), num(run.citizens)),
      figure(t("money.run.total"), won(run.total_points)),
      figure(t("money.run.pending"), num(run.settlement.pending)),
    ),
    facts([
      [t("money.run.id"), run.run_id],
      [t("money.run.skippedNoAccount"), num(run.skipped.no_account)],
      [t("money.run.skippedBelow"), num(run.skipped.below_threshold)],
      [t("money.run.chunks"), `${num(run.chunks.done)} / ${num(run.chunks.expected)}`],
      [t("money.run.startedBy"), `${who(run.started_by)} · ${when(run.started_at)}`],
      [t("money.run.readyAt"), when(run.ready_at)],
      [t("money.run.approvedBy"), run.approved_by ? `${run.approved_by} · ${when(run.approved_at)}` : null],
      [t("money.run.paid"), `${num(run.settlement.paid)} · ${won(run.settlement.paid_points)}`],
      [t("money.run.failed"), `${num(run.settlement.failed)} · ${won(run.settlement.failed_points)}`],
      [t("money.run.settledAt"), when(run.settled_at)],
    ]),
  );

  if (run.status === "running") {
    view.append(notice(t("money.run.runningNote")));
    const timer = setTimeout(ctx.refresh, 2000);
    ctx.onLeave(() => clearTimeout(timer));
  }

  // Review and approval (maker != checker).
  const review = h("section", { class: "card", "aria-labelledby": "run-review" }, h("h2", { id: "run-review" }, t("money.run.review")));
  view.append(review);
  if (run.approved_by) {
    review.append(h("p", {}, t("money.run.approvedNote", { by: run.approved_by, at: when(run.approved_at) })));
  } else if (run.status !== "ready") {
    review.append(h("p", {}, t("money.run.notReady")));
  } else if (me && run.started_by === me.sub) {
    review.append(
      h("button", { type: "button", class: "primary", disabled: true, "aria-describedby": "self-approve" }, t("money.run.approve")),
      h("p", { class: "hint", id: "self-approve" }, t("money.run.selfApprove")),
    );
  } else {
    review.append(form({}, [h("button", { type: "submit", class: "primary" }, t("money.run.approve"))], async () => {
      const sure = await confirmMoney(
        t("money.run.approveTitle", { period: run.period }),
        t("money.run.approveText", { total: won(run.total_points), citizens: num(run.citizens) }),
        t("money.run.approve"),
      );
      if (!sure) return;
      await post(`${path}/approve`);
      toast(t("money.run.approved"), "ok");
      ctx.refresh();
    }, { errorText: explain }));
  }

  // The transfer file.
  const exported = h("section", { class: "card", "aria-labelledby": "run-export" },
    h("h2", { id: "run-export" }, t("money.run.export")), h("p", {}, t("money.run.exportText")));
  view.append(exported);
  const approved = run.status === "approved" || run.status === "settled";
  const shas = h("div", {});
  const drawShas = (exports) => {
    const entries = Object.entries(exports || {});
    clear(shas).append(entries.length
      ? facts(entries.map(([format, record]) => [t("money.run.sha", { format }), h("code", { class: "sha" }, record.sha256)]))
      : h("p", {}, t("money.run.noExport")));
  };
  drawShas(run.exports);
  if (approved) {
    const got = h("p", { role: "status" });
    exported.append(form({}, [h("button", { type: "submit" }, t("money.run.download"))], async () => {
      const file = await download(`${path}/export?format=csv`, `${run.run_id}.csv`);
      got.textContent = t("money.run.downloaded", { name: file.name, bytes: num(file.bytes) });
      drawShas((await get(path, undefined, { signal: ctx.signal })).exports);
    }, { errorText: explain }), got);
  } else {
    exported.append(h("p", {}, t("money.run.exportLater")));
  }
  exported.append(shas);

  // Settlement.
  const settle = h("section", { class: "card", "aria-labelledby": "run-settle" }, h("h2", { id: "run-settle" }, t("money.run.settle")));
  view.append(settle);
  if (!approved) {
    settle.append(h("p", {}, t("money.run.settleLater")));
  } else if (run.settlement.pending === 0) {
    settle.append(h("p", {}, t("money.run.settleDone")));
  } else {
    const paid = h("textarea", { name: "paid", rows: 4, spellcheck: "false", autocomplete: "off" });
    const failed = h("textarea", { name: "failed", rows: 3, spellcheck: "false", autocomplete: "off" });
    const file = h("input", { type: "file", accept: ".csv,text/csv" });
    const filled = h("p", { role: "status", class: "hint" });
    file.addEventListener("change", async () => {
      const chosen = file.files?.[0];
      if (!chosen) return;
      const found = csvCitizens(await chosen.text());
      paid.value = found.join("\n");
      filled.textContent = t("money.run.filled", { n: num(found.length) });
    });
    settle.append(
      h("p", {}, t("money.run.settleText", { limit: num(SETTLE_LIMIT) })),
      field(t("money.run.fromFile"), file, t("money.run.fromFileHint")), filled,
      form({}, [
        field(t("money.run.settlePaid"), paid),
        field(t("money.run.settleFailed"), failed),
        h("button", { type: "submit", class: "primary" }, t("money.run.settleButton")),
      ], async (data, el) => {
        const body = { paid: ids(data.get("paid")), failed: ids(data.get("failed")) };
        const both = body.paid.filter((c) => body.failed.includes(c));
        if (!body.paid.length && !body.failed.length) throw new Error(t("money.run.settleNone"));
        if (both.length) throw new Error(t("money.run.settleBoth", { ids: both.join(", ") }));
        if (body.paid.length > SETTLE_LIMIT || body.failed.length > SETTLE_LIMIT) {
          throw new Error(t("money.run.settleTooMany", { limit: num(SETTLE_LIMIT) }));
        }
        const sure = await confirmMoney(t("money.run.settleTitle"),
          t("money.run.settleConfirm", { paid: num(body.paid.length), failed: num(body.failed.length) }), t("money.run.settleButton"));
        if (!sure) return;
        const done = await post(`${path}/settle`, body);
        const message = t("money.run.settled", { paid: num(done.applied.paid), failed: num(done.applied.failed), unchanged: num(done.unchanged) });
        el.reset();
        toast(message, "ok");
        ctx.refresh();
      }, { errorText: refusal }),
    );
  }

  // The citizens skipped, by reason.
  const reason = h("select", { name: "reason" },
    ["all", "no_account", "below_threshold"].map((r) => h("option", { value: r }, t(`money.run.reason.${r}`))));
  const holder = h("div", {});
  const skipped = h("section", { "aria-labelledby": "run-skipped" },
    h("h2", { id: "run-skipped" }, t("money.run.skipped")), h("p", {}, t("money.run.skippedText")),
    h("div", { class: "row" }, field(t("money.run.reason"), reason)), holder);
  view.append(skipped);
  const showSkipped = async () => {
    const list = pagedTable({
      caption: `${t("money.run.skipped")}: ${t(`money.run.reason.${reason.value}`)}`,
      path: `${path}/skipped`,
      query: { reason: reason.value, limit: 50 },
      key: "skipped",
      signal: ctx.signal,
      empty: t("money.run.skippedNone"),
      columns: [
        { label: t("money.run.col.citizen"), cell: (s) => (can("citizens") ? link(`#/citizens/${encodeURIComponent(s.citizen_id)}`, s.citizen_id) : s.citizen_id) },
        { label: t("money.run.col.reason"), cell: (s) => t(`money.run.reason.${s.reason}`) },
      ],
    });
    holder.replaceChildren(list.element);
    await list.reload();
  };
  reason.addEventListener("change", () => showSkipped().catch((error) => holder.replaceChildren(notice(explain(error), "error"))));
  await showSkipped();
}
