"""The webhook parser tests' shared helpers assert too; pytest explains their failures only
when it rewrites them, which it does for test modules and conftest files on its own."""

import pytest

pytest.register_assert_rewrite("tests.contract.webhook_parser_support")
