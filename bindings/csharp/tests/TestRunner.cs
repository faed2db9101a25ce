// A minimal test runner (no test framework is available to plain Mono): runs named test
// methods, reports each, and ends with the line "N passed, N failed".
using System;
using System.Collections.Generic;

namespace UdpRelay.Tests
{
    internal sealed class TestFailure : Exception
    {
        public TestFailure(string message) : base(message)
        {
        }
    }

    internal static class Assert
    {
        public static void True(bool condition, string what)
        {
            if (!condition) throw new TestFailure(what);
        }

        public static void Equal<T>(T expected, T actual, string what)
        {
            if (!EqualityComparer<T>.Default.Equals(expected, actual))
                throw new TestFailure(what + ": expected " + expected + ", got " + actual);
        }

        public static void Contains(string haystack, string needle, string what)
        {
            if (haystack == null || haystack.IndexOf(needle, StringComparison.Ordinal) < 0)
                throw new TestFailure(what + ": \"" + needle + "\" not in \"" + haystack + "\"");
        }

        public static TException Throws<TException>(Action action, string what) where TException : Exception
        {
            try
            {
                action();
            }
            catch (TException e)
            {
                return e;
            }
            catch (Exception e)
            {
                throw new TestFailure(what + ": expected " + typeof(TException).Name + ", got " + e.GetType().Name + ": " + e.Message);
            }
            throw new TestFailure(what + ": expected " + typeof(TException).Name + ", nothing was thrown");
        }
    }

    internal sealed class TestRunner
    {
        private readonly List<KeyValuePair<string, Action>> _tests = new List<KeyValuePair<string, Action>>();

        public void Add(string name, Action test)
        {
            _tests.Add(new KeyValuePair<string, Action>(name, test));
        }

        /// <summary>Runs every test; returns the number that failed.</summary>
        public int Run()
        {
            int passed = 0, failed = 0;
            foreach (KeyValuePair<string, Action> test in _tests)
            {
                try
                {
                    test.Value();
                    passed++;
                    Console.WriteLine("PASS " + test.Key);
                }
                catch (Exception e)
                {
                    failed++;
                    Console.WriteLine("FAIL " + test.Key + ": " + e);
                }
            }
            Console.WriteLine(passed + " passed, " + failed + " failed");
            return failed;
        }
    }
}
