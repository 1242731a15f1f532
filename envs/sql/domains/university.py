"""A university: departments run courses taught by professors; students enroll in courses."""

from __future__ import annotations

from envs.sql.domains import words as W
from envs.sql.domains.framework import SpecDomain, Table, attr, cat, date, fk, money, num, person, title, year

DEPARTMENTS = ("Mathematics", "Physics", "Chemistry", "Biology", "Computer Science", "History", "Economics",
               "Philosophy", "Linguistics", "Psychology", "Geography", "Music")
TOPICS = ("Foundations of", "Advanced", "Introduction to", "Seminar in", "Topics in", "Methods in", "Applied")
SUBJECTS = ("Algebra", "Optics", "Genetics", "Databases", "Ethics", "Microeconomics", "Phonetics", "Cognition",
            "Climate", "Harmony", "Statistics", "Thermodynamics", "Ecology", "Compilers", "Logic", "Archives")


def department_name(r, row, db):
    return DEPARTMENTS[row["department_id"] - 1]


DOMAIN = SpecDomain("university", [
    Table("departments", "department", len(DEPARTMENTS), (
        title("name", department_name),
        cat("building", ("North Hall", "Science Tower", "Old Library", "East Wing", "Riverside Campus"), where="in {v}"),
        money("budget", 200_000, 3_000_000, skew=1.5, where="with a budget {v}", digits=0),
    )),
    Table("professors", "professor", 160, (
        title("name", person),
        fk("department_id", "departments", where="in {v}", have="employ|employs {n} professors", empty=0.0),
        cat("rank", ("Assistant Professor", "Associate Professor", "Full Professor", "Lecturer"), (4, 3, 2, 3),
            label="academic rank", where="with the rank {v}"),
        money("salary", 52_000, 185_000, skew=1.3, where="earning {v}", digits=0),
        date("hire_date", "1995-01-01", "2024-08-31", label="hire date", where="hired {v}"),
    )),
    Table("courses", "course", 260, (
        title("title", lambda r, row, db: f"{r.choice(TOPICS)} {r.choice(SUBJECTS)} {r.randint(100, 499)}"),
        fk("department_id", "departments", where="offered by {v}", have="offer|offers {n} courses", empty=0.0),
        fk("professor_id", "professors", where="taught by {v}", have="teach|teaches {n} courses"),
        num("credits", 2, 8, additive=False, label="number of credits", labels="numbers of credits",
            where="worth {v} credits", cmp=("more than", "fewer than")),
        cat("level", ("Undergraduate", "Graduate"), (3, 1), where="at the {v} level"),
        num("capacity", 15, 250, skew=1.8, additive=False, where="with a capacity {v}"),
    ), quote=True),
    Table("students", "student", 900, (
        title("name", person),
        cat("hometown", W.CITY_NAMES, where="from {v}"),
        year("enrollment_year", 2016, 2024, label="enrollment year", where="who enrolled {v}"),
        num("gpa", 1.8, 4.0, digits=2, skew=0.7, label="GPA", labels="GPAs", additive=False, where="with a GPA {v}"),
        attr("email", lambda r, row, db: f"s{row['student_id']:05d}@uni.example.edu"),
    )),
    Table("enrollments", "enrollment", 4200, (
        fk("student_id", "students", where="of {v}", have="have|has {n} enrollments", empty=0.03),
        fk("course_id", "courses", where="in {v}", have="have|has {n} enrollments"),
        cat("semester", ("2023 Fall", "2024 Spring", "2024 Fall", "2025 Spring"), where="in the {v} semester"),
        num("grade", 0, 100, skew=0.6, additive=False, where="with a grade {v}"),
    )),
])
