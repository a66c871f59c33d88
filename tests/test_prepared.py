"""Prepared statements write exactly what SQLAlchemy would write, read back by SQLAlchemy."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, bindparam, create_engine, insert, select, text

from bot.store.prepared import Prepared

metadata = MetaData()
moments = Table(
    "moments", metadata,
    Column("n", Integer, primary_key=True),
    Column("at", DateTime(timezone=True)),
    Column("label", String(16)),
)

zones = st.one_of(
    st.none(),
    st.builds(timezone, st.integers(-14 * 60, 14 * 60).map(lambda minutes: timedelta(minutes=minutes))),
)


def stored_text(engine, n: int) -> str | None:
    with engine.connect() as connection:
        return connection.execute(text("SELECT at FROM moments WHERE n = :n"), {"n": n}).scalar()


@settings(max_examples=300, deadline=None)
@given(moment=st.datetimes(timezones=zones))
def test_a_datetime_is_written_as_sqlalchemy_writes_it_on_sqlite(moment):
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(insert(moments).values(n=1, at=moment))  # SQLAlchemy's own way
    prepared = Prepared(insert(moments).values(n=bindparam("n"), at=bindparam("at")), engine.dialect)
    raw = engine.raw_connection()
    try:
        prepared.run(raw.cursor(), n=2, at=moment)
        raw.commit()
    finally:
        raw.close()
    assert stored_text(engine, 2) == stored_text(engine, 1)
    with engine.connect() as connection:  # and SQLAlchemy reads it back as the same wall time
        read = connection.execute(select(moments.c.at).where(moments.c.n == 2)).scalar()
    assert read == moment.replace(tzinfo=None)


def test_a_date_none_and_a_name_used_twice_keep_sqlalchemys_meaning():
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    statement = Prepared(
        insert(moments).from_select(["n", "at", "label"], select(bindparam("n", type_=Integer), bindparam("at", type_=DateTime()), bindparam("label", type_=String)).where(bindparam("label", type_=String) != "")),
        engine.dialect,
    )
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        assert statement.run(cursor, n=1, at=date(2026, 11, 29), label="a") == 1
        assert statement.run(cursor, n=2, at=None, label="b") == 1
        assert statement.run(cursor, n=3, at=None, label="") == 0  # the same name, twice
        raw.commit()
    finally:
        raw.close()
    assert stored_text(engine, 1) == "2026-11-29 00:00:00.000000"
    assert stored_text(engine, 2) is None
