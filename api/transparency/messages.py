"""Every text of the public transparency page, in English and Bahasa Indonesia (same keys in both)."""

MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "title": "Prakerja in numbers",
        "lang_switch": "Bahasa Indonesia",
        "intro": (
            "Figures of the programme as recorded today. To protect privacy, a count under {min} is not published "
            "(shown as “fewer than {min}”), nor a sum paid to fewer than {min} people."
        ),
        "generated": "Figures as of {at} UTC.",
        "totals": "Whole programme",
        "by_province": "By province",
        "by_wave": "By wave",
        "chart.registered": "Registrations",
        "chart.awarded": "Awarded a card",
        "chart.incentives": "Incentives paid (Rp)",
        "col.province": "Province",
        "col.wave": "Wave",
        "col.registered": "Registered",
        "col.eligible": "Eligible",
        "col.awarded": "Awarded",
        "col.trained": "Completed a training",
        "col.incentives": "Incentives paid (Rp)",
        "col.surveys": "Survey incentives paid (Rp)",
        "suppressed": "fewer than {min}",
        "none": "Nothing to show yet.",
        "json": "The same figures as JSON",
    },
    "id": {
        "title": "Prakerja dalam angka",
        "lang_switch": "English",
        "intro": (
            "Angka program sebagaimana tercatat hari ini. Untuk melindungi privasi, jumlah di bawah {min} tidak "
            "dipublikasikan (ditampilkan “kurang dari {min}”), begitu pula dana yang dibayarkan kepada kurang dari "
            "{min} orang."
        ),
        "generated": "Angka per {at} UTC.",
        "totals": "Seluruh program",
        "by_province": "Menurut provinsi",
        "by_wave": "Menurut gelombang",
        "chart.registered": "Pendaftaran",
        "chart.awarded": "Penerima kartu",
        "chart.incentives": "Insentif dibayarkan (Rp)",
        "col.province": "Provinsi",
        "col.wave": "Gelombang",
        "col.registered": "Terdaftar",
        "col.eligible": "Memenuhi syarat",
        "col.awarded": "Penerima kartu",
        "col.trained": "Menyelesaikan pelatihan",
        "col.incentives": "Insentif dibayarkan (Rp)",
        "col.surveys": "Insentif survei dibayarkan (Rp)",
        "suppressed": "kurang dari {min}",
        "none": "Belum ada yang dapat ditampilkan.",
        "json": "Angka yang sama dalam JSON",
    },
}
