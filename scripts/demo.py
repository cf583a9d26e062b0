"""Walk journeys through a running `make up` stack over HTTP only, as partners, staff and beneficiaries would.

    PRAKERJA_TIME_SCALE=864000 make up          # one programme day = 0.1 s
    .venv/bin/python scripts/demo.py             # in another terminal

1. a citizen registers, is drawn, buys a course (signed marketplace call), completes and reviews it, links an
   e-wallet, answers the surveys, and is paid 4 x 600,000 + 3 x 50,000 — checked against the simulator's records;
2. a second beneficiary's e-wallet is closed after linking: the first incentive goes ON_HOLD, support finds it
   in the list and retries it to a new account, which is paid exactly once.
"""

import base64
import json
import os
import secrets
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from core.security import signed_headers  # noqa: E402

API, SIM = os.environ.get("PRAKERJA_API_URL", "http://127.0.0.1:8000"), "http://127.0.0.1:8100"
ADMIN = {"Authorization": f"Bearer {os.environ.get('PRAKERJA_ADMIN_TOKEN', 'dev-admin-token')}"}
KEYS = {code: v["sign_key"] for code, v in json.loads((ROOT / "var/dev-credentials.json").read_text()).items()}
http = httpx.Client(timeout=30)


def digits(n: int) -> str:
    return str(secrets.randbelow(9 * 10 ** (n - 1)) + 10 ** (n - 1))


def check(response: httpx.Response, status: int) -> dict:
    if response.status_code != status:
        raise SystemExit(
            f"{response.request.method} {response.request.url.path}: {response.status_code} {response.text}"
        )
    return response.json()


def signed(code: str, path: str, body: dict) -> httpx.Response:
    raw = json.dumps(body).encode()
    headers = signed_headers(KEYS[code], code, int(time.time()), "POST", path, raw)
    return http.post(API + path, content=raw, headers={**headers, "Content-Type": "application/json"})


def staff(role: str) -> dict:
    return {
        "Authorization": "Bearer "
        + check(http.post(API + "/v1/admin/staff-tokens", json={"role": role}, headers=ADMIN), 201)["token"]
    }


def me(token: str) -> dict:
    return check(http.get(API + "/v1/me", headers={"Authorization": f"Bearer {token}"}), 200)


def wait(token: str, *statuses: str, timeout: float = 60) -> dict:
    end = time.time() + timeout
    while (view := me(token))["status"] not in statuses:
        if time.time() > end:
            raise SystemExit(f"stuck at {view['status']}")
        time.sleep(0.2)
    return view


def register() -> tuple[str, str]:
    nik, kk = "32" + digits(14), "32" + digits(14)
    person = {"nik": nik, "kk_number": kk, "full_name": "Siti Rahayu", "date_of_birth": "1995-04-02"}
    check(http.post(SIM + "/sim/citizens", json=person), 201)
    body = {
        **person,
        "email": "siti@example.id",
        "phone": "081234567890",
        "province": "Jawa Barat",
        "occupation": "UNEMPLOYED",
        "is_student": False,
        "selfie_b64": base64.b64encode(os.urandom(32)).decode(),
    }
    registration = check(http.post(API + "/v1/registrations", json=body), 202)
    token = registration["beneficiary_token"]
    print(f"registered {registration['registration_id']}: {wait(token, 'WAITING_FOR_WAVE')['status']}")
    return nik, token


def draw(operator: dict, *tokens: str) -> None:
    wave = check(http.post(API + "/v1/waves", json={"name": "demo", "quota": 100}, headers=operator), 201)
    check(http.post(API + f"/v1/waves/{wave['wave_id']}/draw", json={}, headers=operator), 202)
    for token in tokens:
        view = wait(token, "AWARDED")
        print(f"awarded card {view['prakerja_number']}, balance {view['balance']:,}")


def train(token: str) -> None:
    ref = "DEMO-" + digits(8)
    bought = check(
        signed(
            "DEV-MARKET",
            "/v1/partners/purchases",
            {"prakerja_number": me(token)["prakerja_number"], "course_id": "DEV-COURSE-1", "purchase_ref": ref},
        ),
        201,
    )
    print(f"bought {ref} for {bought['price']:,}, balance {bought['balance_remaining']:,}")
    check(
        signed(
            "DEV-PROVIDER",
            "/v1/partners/completions",
            {"purchase_ref": ref, "certificate_number": "CERT-" + ref, "completed_at": "2026-11-25T00:00:00Z"},
        ),
        200,
    )
    check(
        http.post(
            API + f"/v1/me/trainings/{ref}/review",
            json={"rating": 5, "text": "bagus"},
            headers={"Authorization": f"Bearer {token}"},
        ),
        200,
    )
    print(f"completed and reviewed: {wait(token, 'INCENTIVES')['status']}, waiting for {me(token)['waiting_for']}")


def link(nik: str, token: str, partner: str = "DEV-EWALLET") -> str:
    account = "08" + digits(10)
    account_seed = {
        "partner_client_code": partner,
        "account_number": account,
        "nik": nik,
        "kyc": True,
        "status": "ACTIVE",
    }
    check(http.post(SIM + "/sim/payment-accounts", json=account_seed), 201)
    check(
        http.put(
            API + "/v1/me/payment-account",
            json={"partner_client_code": partner, "account_number": account},
            headers={"Authorization": f"Bearer {token}"},
        ),
        200,
    )
    return account


def answer_surveys_until_completed(token: str) -> dict:
    answered: set[int] = set()
    end = time.time() + 120
    while (view := me(token))["status"] != "COMPLETED" and time.time() < end:
        for survey in view["surveys"]:
            if survey["status"] == "OPEN" and survey["survey_no"] not in answered:
                check(
                    http.post(
                        API + f"/v1/me/surveys/{survey['survey_no']}",
                        json={"answers": {"useful": True}},
                        headers={"Authorization": f"Bearer {token}"},
                    ),
                    200,
                )
                answered.add(survey["survey_no"])
        time.sleep(0.2)
    return view


def paid_to(partner: str, account: str) -> list[int]:
    records = check(http.get(SIM + f"/sim/payments/{partner}"), 200)
    return sorted(r["amount"] for r in records if r["account_number"] == account and r["status"] == "SUCCEEDED")


def main() -> None:
    operator, support = staff("operator"), staff("support")
    (nik, token), (nik2, token2) = register(), register()
    draw(operator, token, token2)
    train(token)  # both buy at once: the purchase deadline is 30 programme days
    train(token2)
    account = link(nik, token)
    closing = link(nik2, token2)
    seed = {"partner_client_code": "DEV-EWALLET", "account_number": closing, "nik": nik2, "kyc": True}
    check(http.post(SIM + "/sim/payment-accounts", json={**seed, "status": "CLOSED"}), 201)

    view = answer_surveys_until_completed(token)
    print(
        f"{view['status']}: "
        + ", ".join(f"{p['kind']} {p['number']} {p['amount']:,} {p['status']}" for p in view["payments"])
    )
    print(f"the partner's own records for that account: {paid_to('DEV-EWALLET', account)}")

    print(f"second beneficiary, account closed at the partner: {wait(token2, 'PAYMENT_ON_HOLD')['status']}")
    held = check(http.get(API + "/v1/support/payments", params={"status": "ON_HOLD"}, headers=support), 200)["items"]
    payment = next(p for p in held if p["registration_id"] == me(token2)["registration_id"])
    print(f"support sees {payment['payment_id']} on hold: {payment['reason']}")
    new_account = "08" + digits(10)
    check(
        http.post(SIM + "/sim/payment-accounts", json={**seed, "account_number": new_account, "status": "ACTIVE"}), 201
    )
    retry = {"partner_client_code": "DEV-EWALLET", "account_number": new_account}
    check(http.post(API + f"/v1/support/payments/{payment['payment_id']}/retry", json=retry, headers=support), 202)
    end = time.time() + 30
    while not paid_to("DEV-EWALLET", new_account) and time.time() < end:
        time.sleep(0.2)
    print(
        f"retried to a new account: paid {paid_to('DEV-EWALLET', new_account)}; "
        f"the closed account was paid {paid_to('DEV-EWALLET', closing)}"
    )


if __name__ == "__main__":
    main()
