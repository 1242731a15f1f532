"""A company's HR records: employees in departments, assigned to projects."""

from __future__ import annotations

from envs.sql.domains import words as W
from envs.sql.domains.framework import SpecDomain, Table, attr, cat, date, fk, money, num, person, title

DEPARTMENTS = ("Engineering", "Sales", "Marketing", "Finance", "Legal", "Operations", "Support", "Research", "Design")
JOBS = ("Analyst", "Engineer", "Manager", "Specialist", "Coordinator", "Director", "Intern", "Consultant")
CODENAMES = ("Atlas", "Beacon", "Cobalt", "Delta", "Ember", "Falcon", "Granite", "Harbor", "Indigo", "Juniper", "Keystone",
             "Lumen", "Meridian", "Nimbus", "Onyx", "Polaris", "Quartz", "Redwood", "Summit", "Tundra")

DOMAIN = SpecDomain("company_hr", [
    Table("departments", "department", len(DEPARTMENTS), (
        title("name", lambda r, row, db: DEPARTMENTS[row["department_id"] - 1]),
        cat("office_city", W.CITY_NAMES[24:30], label="office city", labels="office cities", where="based in {v}"),
        num("floor", 1, 12, additive=False, where="on floor {v}", cmp=("above", "below")),
    )),
    Table("employees", "employee", 1100, (
        title("name", person),
        fk("department_id", "departments", where="in {v}", have="have|has {n} employees", empty=0.0),
        cat("job_title", JOBS, (6, 8, 3, 4, 3, 1, 2, 3), label="job title", where="working as {v}"),
        money("salary", 28_000, 240_000, skew=2.2, digits=0, where="earning {v}"),
        date("hire_date", "2008-01-01", "2024-09-30", label="hire date", where="hired {v}"),
        cat("work_mode", ("On-site", "Hybrid", "Remote"), (4, 4, 2), label="work mode", where="with work mode {v}"),
        attr("email", lambda r, row, db: f"{row['name'].split()[0].lower()}.{row['employee_id']}@corp.example.com"),
    )),
    Table("projects", "project", 140, (
        title("name", lambda r, row, db: f"{r.choice(CODENAMES)}-{r.randint(1, 99)}"),
        fk("department_id", "departments", where="run by {v}", have="run|runs {n} projects", empty=0.0),
        date("start_date", "2019-01-01", "2024-12-31", label="start date", where="started {v}"),
        money("budget", 15_000, 2_500_000, skew=2.5, digits=0, where="with a budget {v}"),
        cat("status", ("active", "completed", "on hold", "cancelled"), (5, 4, 1, 1), labels="statuses", where="with status {v}"),
    )),
    Table("assignments", "assignment", 2600, (
        fk("employee_id", "employees", where="of {v}", have="have|has {n} project assignments", empty=0.1),
        fk("project_id", "projects", where="on {v}", have="have|has {n} assigned employees"),
        cat("role", ("Lead", "Contributor", "Reviewer", "Advisor"), (1, 6, 2, 1), where="in the role {v}"),
        num("hours_per_week", 2, 40, skew=1.3, label="weekly hours", labels="weekly hours", where="with weekly hours {v}"),
    )),
])
