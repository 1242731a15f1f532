"""A hospital network: patients book appointments with doctors working at clinics."""

from __future__ import annotations

from envs.sql.domains import words as W
from envs.sql.domains.framework import SpecDomain, Table, cat, date, fk, money, num, person, title, year

SPECIALTIES = ("Cardiology", "Dermatology", "Neurology", "Pediatrics", "Orthopedics", "Oncology", "General Practice",
               "Psychiatry", "Radiology")
PLACES = ("Valley", "Park", "Harbor", "Hill", "River", "Lake")
MEDICATIONS = ("Amoxicillin", "Ibuprofen", "Metformin", "Lisinopril", "Atorvastatin", "Omeprazole", "Sertraline",
               "Cetirizine", "Prednisone", "Levothyroxine")

DOMAIN = SpecDomain("hospital", [
    Table("clinics", "clinic", 18, (
        title("name", lambda r, row, db: f"{r.choice(W.ADJECTIVES)} {r.choice(PLACES)} Clinic"),
        cat("city", W.CITY_NAMES[:8], labels="cities", where="in {v}"),
        year("opened_year", 1960, 2020, label="opening year", where="opened {v}"),
        num("beds", 20, 400, skew=1.4, label="number of beds", labels="numbers of beds", where="with {v} beds",
            cmp=("more than", "fewer than")),
    )),
    Table("doctors", "doctor", 120, (
        title("name", lambda r, row, db: "Dr. " + " ".join(r.choice(x) for x in (W.FIRST_NAMES, W.LAST_NAMES))),
        fk("clinic_id", "clinics", where="working at {v}", have="employ|employs {n} doctors", empty=0.0),
        cat("specialty", SPECIALTIES, labels="specialties", where="specializing in {v}"),
        num("years_experience", 1, 38, label="years of experience", labels="years of experience", additive=False,
            where="with {v} years of experience", cmp=("more than", "fewer than")),
    )),
    Table("patients", "patient", 800, (
        title("name", person),
        cat("city", W.CITY_NAMES[:8], labels="cities", where="living in {v}"),
        date("birth_date", "1940-01-01", "2020-12-31", label="birth date", where="born {v}"),
        cat("blood_type", ("O+", "A+", "B+", "AB+", "O-", "A-", "B-", "AB-"), (38, 34, 9, 3, 7, 6, 2, 1), label="blood type",
            where="with blood type {v}"),
        cat("insurance", ("Public", "Private", "Uninsured"), (6, 3, 1), label="insurance type", where="with insurance type {v}"),
    )),
    Table("appointments", "appointment", 3000, (
        fk("patient_id", "patients", where="of {v}", have="have|has had {n} appointments"),
        fk("doctor_id", "doctors", where="with {v}", have="have|has had {n} appointments"),
        date("appointment_date", "2022-01-01", "2024-12-31", label="appointment date", where="scheduled {v}"),
        cat("status", ("completed", "cancelled", "no-show", "scheduled"), (80, 9, 5, 6), labels="statuses",
            where="with status {v}"),
        money("fee", 40, 450, skew=1.8, where="with a fee {v}"),
    )),
    Table("prescriptions", "prescription", 1900, (
        fk("appointment_id", "appointments", where="from {v}", have="led to {n} prescriptions", empty=0.3),
        cat("medication", MEDICATIONS, where="for {v}"),
        num("dosage_mg", 5, 1000, skew=2.0, label="dosage in mg", labels="dosages in mg", additive=False,
            where="with a dosage {v} mg"),
        num("days", 3, 90, skew=1.5, label="duration in days", labels="durations in days", additive=False,
            where="lasting {v} days", cmp=("more than", "fewer than")),
    )),
])
