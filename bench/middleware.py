"""Counts the SQL statements each request issues (the benchmark only)."""

from django.db import connection


def count_statements(get_response):
    def middleware(request):
        count = 0

        def counted(execute, sql, params, many, context):
            nonlocal count
            count += 1
            return execute(sql, params, many, context)

        with connection.execute_wrapper(counted):
            response = get_response(request)
        response["X-Bench-SQL"] = str(count)
        return response

    return middleware
